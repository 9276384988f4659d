/**
 * Scanning JSON in its UTF-8 bytes without parsing it: every JSON delimiter is ASCII and no byte of a
 * multi-byte UTF-8 character is, so indices are byte offsets and slices can be copied as they are.
 * String contents are skipped with indexOf. Input may be cut short (an upstream body): the scanners
 * return -1 when the bytes end first.
 */

export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const OPEN_BRACE = 0x7b;
export const COLON = 0x3a;
export const BACKSLASH = 0x5c;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;

export function skipWhitespace(json: Buffer, i: number): number {
  for (;;) {
    const c = json[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index of the quote closing the string that opens at `start`, or -1. */
export function stringEnd(json: Buffer, start: number): number {
  let end = start;
  do end = json.indexOf(QUOTE, end + 1);
  while (end !== -1 && isEscaped(json, end));
  return end;
}

/** What valueEnd answers for a container that nests deeper than it was allowed to. */
export const TOO_DEEP = -2;

/**
 * Index just past the value that starts at `start`, or -1 when the bytes end (or break) first, or
 * TOO_DEEP when arrays and objects in it nest more than `maxDepth` levels (the value itself is one).
 */
export function valueEnd(json: Buffer, start: number, maxDepth = Infinity): number {
  const c = json[start];
  if (c === QUOTE) {
    const end = stringEnd(json, start);
    return end < 0 ? -1 : end + 1;
  }
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return containerEnd(json, start, maxDepth);
  let i = start; // number, true, false or null: up to the next delimiter
  for (;;) {
    const d = json[i];
    if (
      d === undefined ||
      d === COMMA ||
      d === CLOSE_BRACE ||
      d === CLOSE_BRACKET ||
      d === 0x20 ||
      d === 0x0a ||
      d === 0x0d ||
      d === 0x09
    ) { return i; }
    i++;
  }
}

/** A quote is escaped when an odd number of backslashes precede it. */
function isEscaped(json: Buffer, quote: number): boolean {
  let backslashes = 0;
  while (json[quote - 1 - backslashes] === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/** The decoded string that opens at `start` and closes at `end` (`"mod\u0065l"` is `model`). */
export function stringAt(json: Buffer, start: number, end: number): string {
  for (let i = start + 1; i < end; i++) {
    if (json[i] === BACKSLASH) return JSON.parse(json.toString('utf8', start, end + 1)) as string;
  }
  return json.toString('utf8', start + 1, end);
}

function containerEnd(json: Buffer, start: number, maxDepth: number): number {
  let depth = 0;
  for (let i = start; i < json.length; i++) {
    const c = json[i];
    if (c === QUOTE) {
      i = stringEnd(json, i);
      if (i < 0) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return TOO_DEEP;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
  }
  return -1;
}

export interface JsonMember {
  /** Decoded (`"mod\u0065l"` is `model`). */
  name: string;
  valueStart: number;
  /** Index just past the value. */
  valueEnd: number;
}

export interface TopLevelMembers {
  /** In order, duplicates included; those read before the bytes broke, if they did. */
  members: JsonMember[];
  /** The walk reached the object's closing brace. */
  closed: boolean;
  /** A member's value nests deeper than allowed (the walk stopped there). */
  tooDeep: boolean;
}

/**
 * The members of the object that opens at the first non-whitespace byte, nested values skipped whole,
 * never entered; undefined when the bytes are not an object. One pass over the body: the same pass
 * checks that nothing nests deeper than `maxDepth` levels (the object itself is one), so the body
 * parser, the member checks and the upstream body's rewrite share it.
 */
export function topLevelMembers(json: Buffer, maxDepth = Infinity): TopLevelMembers | undefined {
  const open = skipWhitespace(json, 0);
  if (json[open] !== OPEN_BRACE) return undefined;
  const members: JsonMember[] = [];
  const result = (closed: boolean, tooDeep = false): TopLevelMembers => ({ members, closed, tooDeep });
  let i = skipWhitespace(json, open + 1);
  while (json[i] === QUOTE) {
    const nameEnd = stringEnd(json, i);
    const colon = nameEnd < 0 ? -1 : skipWhitespace(json, nameEnd + 1);
    if (colon < 0 || json[colon] !== COLON) return result(false);
    const valueStart = skipWhitespace(json, colon + 1);
    const end = valueEnd(json, valueStart, maxDepth - 1);
    if (end === TOO_DEEP) return result(false, true);
    if (end < 0) return result(false);
    const name = decodedName(json, i, nameEnd);
    if (name === undefined) return result(false);
    members.push({ name, valueStart, valueEnd: end });
    i = skipWhitespace(json, end);
    if (json[i] !== COMMA) break;
    i = skipWhitespace(json, i + 1);
  }
  return result(json[i] === CLOSE_BRACE);
}

/** A member name, or undefined when its escapes are not JSON (the walk runs before the parser). */
function decodedName(json: Buffer, start: number, end: number): string | undefined {
  try {
    return stringAt(json, start, end);
  } catch {
    return undefined;
  }
}

/**
 * Whether arrays and objects nest deeper than `maxDepth` anywhere in the bytes (valid JSON or not):
 * one pass over the brackets outside strings, cheap enough to run before parsing.
 */
export function nestsDeeperThan(json: Buffer, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === QUOTE) {
      i = stringEnd(json, i);
      if (i < 0) return false; // an open string: not JSON, and the parser says so
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
