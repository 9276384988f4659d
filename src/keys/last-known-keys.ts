/**
 * The last record the key store gave this instance for each key hash it resolved, so a key this
 * instance has served keeps working while the store cannot answer (Redis down or stalled). The store
 * consults it only when a lookup fails: while Redis answers, every lookup is fresh, so revocations
 * and patches apply within the usual cache TTL, and a key Redis no longer knows is dropped from here.
 * Only found records enter it, so made-up keys can neither grow nor churn it; past maxEntries the
 * least recently used record leaves first.
 */
import type { ApiKeyRecord } from './api-key.js';

export class LastKnownKeys {
  /** Insertion order is recency: a touched entry is moved to the end. */
  readonly #records = new Map<string, ApiKeyRecord>();

  constructor(private readonly maxEntries: number) {
    if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
      throw new RangeError('maxEntries must be a positive integer');
    }
  }

  get(keyHash: string): ApiKeyRecord | undefined {
    const record = this.#records.get(keyHash);
    if (record) this.set(keyHash, record);
    return record;
  }

  set(keyHash: string, record: ApiKeyRecord): void {
    this.#records.delete(keyHash);
    this.#records.set(keyHash, record);
    if (this.#records.size > this.maxEntries) this.#records.delete(this.#records.keys().next().value!);
  }

  /** Replaces a record only if it is kept: a change made here is the newest known state. */
  update(record: ApiKeyRecord): void {
    if (this.#records.has(record.keyHash)) this.#records.set(record.keyHash, record);
  }

  delete(keyHash: string): void {
    this.#records.delete(keyHash);
  }

  clear(): void {
    this.#records.clear();
  }

  get size(): number {
    return this.#records.size;
  }
}
