/**
 * Removes the configured provider keys from text that came from an upstream (relayed error messages)
 * or goes to a log line. Upstreams echo the key they were sent, whole or masked ("Incorrect API key
 * provided: sk-abc1****************wxyz"), so three shapes are removed:
 *  - any run of 8 or more characters that is a piece of a key (this covers the whole key, and a key
 *    cut at either end);
 *  - a masked form: a run of mask characters (`**`, `..`, `…`) followed by a key's last 4 characters,
 *    together with the word characters just before the mask (the visible prefix, e.g. `sk-abc1`);
 *  - a key shorter than 8 characters, where it appears whole.
 * A piece that is a plain word (lowercase letters and dashes only: "sk-proj-", "upstream") or that
 * also occurs in the config's public names (provider names, base URLs, model ids) is not treated as
 * secret, or a demo key such as "sk-upstream-primary-KEY1" would redact "upstream" from every log
 * line. Real keys are random: few of their pieces are plain words, and each leaked run of a key
 * longer than 8 characters still holds pieces that are not.
 * Built once from the config; `redact` is a no-op when no provider has a key. (docs/contract.md §11)
 */
import type { Config } from '../config.js';

export const REDACTED = '[redacted]';
/** Shorter pieces of a random key would also match ordinary words. */
const MIN_PIECE = 8;
const LAST_VISIBLE = 4;
const WORD_CHAR = /[\w-]/;
const PLAIN_WORD = /^[a-z-]+$/;

const QUAD = 4;

type Region = [start: number, end: number];

/** Four UTF-16 code units as one number (collisions only cost a string comparison). */
function quad(text: string, at: number): number {
  return (
    ((text.charCodeAt(at) * 65599 + text.charCodeAt(at + 1)) * 65599 + text.charCodeAt(at + 2)) * 65599 +
    text.charCodeAt(at + 3)
  );
}

export class SecretRedactor {
  /** Every MIN_PIECE-character substring of every key long enough to have one. */
  private readonly pieces = new Set<string>();
  /** Every 4-character substring of those keys, as a number (`quad`): a cheap first look at a log line. */
  private readonly quads = new Set<number>();
  private readonly shortKeys: string[] = [];
  private readonly secrets: string[] = [];
  private readonly masked: RegExp | undefined;

  constructor(secrets: Iterable<string>, publicTexts: string[] = []) {
    const isPublic = (piece: string) => PLAIN_WORD.test(piece) || publicTexts.some((text) => text.includes(piece));
    const tails = new Set<string>();
    for (const secret of new Set(secrets)) {
      if (!secret) continue;
      if (secret.length < MIN_PIECE) {
        this.shortKeys.push(secret);
        continue;
      }
      this.secrets.push(secret);
      for (let i = 0; i + MIN_PIECE <= secret.length; i++) {
        const piece = secret.slice(i, i + MIN_PIECE);
        if (isPublic(piece)) continue;
        this.pieces.add(piece);
        for (let j = i; j + QUAD <= i + MIN_PIECE; j++) this.quads.add(quad(secret, j));
      }
      tails.add(escapeRegExp(secret.slice(-LAST_VISIBLE)));
    }
    if (tails.size > 0) this.masked = new RegExp(`(?:\\*{2,}|\\.{2,}|…+)(?:${[...tails].join('|')})`, 'g');
  }

  static fromConfig(config: Pick<Config, 'providers' | 'models'>): SecretRedactor {
    const providers = Object.entries(config.providers);
    const models = Object.entries(config.models);
    const publicTexts = [
      ...providers.flatMap(([name, provider]) => [name, provider.baseUrl]),
      ...models.flatMap(([alias, model]) => [alias, ...model.routes.map((route) => route.model)]),
    ];
    return new SecretRedactor(providers.map(([, provider]) => provider.apiKey), publicTexts);
  }

  get empty(): boolean {
    return this.pieces.size === 0 && this.shortKeys.length === 0;
  }

  redact(text: string): string {
    if (this.empty) return text;
    const regions = [...this.pieceRegions(text), ...this.maskedRegions(text), ...this.shortKeyRegions(text)];
    return regions.length === 0 ? text : cut(text, regions);
  }

  /**
   * Any 8 characters of text hold the 4 that start at a multiple of 4, so only those quads are looked
   * up (as numbers, no string per position); the 8-character windows around a hit are then checked.
   */
  private pieceRegions(text: string): Region[] {
    const regions: Region[] = [];
    let checkedUpTo = -1;
    for (let p = 0; p + QUAD <= text.length; p += QUAD) {
      if (!this.quads.has(quad(text, p))) continue;
      for (let i = Math.max(p - QUAD, checkedUpTo + 1, 0); i <= p && i + MIN_PIECE <= text.length; i++) {
        checkedUpTo = i;
        if (!this.pieces.has(text.slice(i, i + MIN_PIECE))) continue;
        const last = regions.at(-1);
        if (last && i <= last[1]) last[1] = i + MIN_PIECE;
        else regions.push([i, i + MIN_PIECE]);
      }
    }
    return regions.map((region) => this.widen(text, region));
  }

  /** A found piece grows over the neighbouring characters that continue a key, plain words included. */
  private widen(text: string, [start, end]: Region): Region {
    const continuesKey = (from: number, to: number) =>
      this.secrets.some((secret) => secret.includes(text.slice(from, to)));
    while (start > 0 && continuesKey(start - 1, end)) start--;
    while (end < text.length && continuesKey(start, end + 1)) end++;
    return [start, end];
  }

  private maskedRegions(text: string): Region[] {
    if (!this.masked) return [];
    const regions: Region[] = [];
    for (const match of text.matchAll(this.masked)) {
      let start = match.index;
      while (start > 0 && WORD_CHAR.test(text[start - 1]!)) start--;
      regions.push([start, match.index + match[0].length]);
    }
    return regions;
  }

  private shortKeyRegions(text: string): Region[] {
    const regions: Region[] = [];
    for (const key of this.shortKeys) {
      for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + key.length)) {
        regions.push([at, at + key.length]);
      }
    }
    return regions;
  }
}

/** `text` with every region (merged where they overlap) replaced by REDACTED. */
function cut(text: string, regions: Region[]): string {
  regions.sort((a, b) => a[0] - b[0]);
  let out = '';
  let from = 0;
  for (const [start, end] of regions) {
    if (end <= from) continue;
    if (start >= from) out += text.slice(from, start) + REDACTED;
    from = end;
  }
  return out + text.slice(from);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
