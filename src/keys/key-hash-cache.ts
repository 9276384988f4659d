/**
 * The SHA-256 of keys clients present, remembered for keys that resolved to a record: a busy key is
 * hashed once instead of on every request (hashing is the largest single cost of authentication).
 * Only the hash is cached; every request still looks the record up, so revocation and expiry apply as
 * before. Unknown keys are never remembered, so a flood of made-up keys can neither grow nor churn it.
 * The plaintext keys it holds are no more exposed than the ones in flight: both live only in this
 * process's memory, beside the provider keys of the config.
 */
import { hashKey } from './api-key.js';

/** Far above the number of keys one deployment serves; when reached, the cache starts over. */
const DEFAULT_MAX_ENTRIES = 10_000;

export class KeyHashCache {
  readonly #hashes = new Map<string, string>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  hash(plaintext: string): string {
    return this.#hashes.get(plaintext) ?? hashKey(plaintext);
  }

  /** Call once `keyHash` (from `hash`) has been found in the key store. */
  remember(plaintext: string, keyHash: string): void {
    if (this.#hashes.has(plaintext)) return;
    if (this.#hashes.size >= this.maxEntries) this.#hashes.clear();
    this.#hashes.set(plaintext, keyHash);
  }

  get size(): number {
    return this.#hashes.size;
  }
}
