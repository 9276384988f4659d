/**
 * Stored-response records in this process, for a gateway without Redis (one instance). Bounded: past
 * `maxRecords` (10,000 by default) the record written longest ago leaves first, so an embedded gateway
 * serving many responses does not grow without end; a follow-up on an evicted record gets the same 404
 * as one on an expired record. Records expire `retentionDays` after they were written, as on Redis
 * (`SET … EX`). Records are copied in and out: a caller changing one it holds does not change the store.
 */
import type { ResponseStore, StoredResponse } from './stored-response.js';

const DAY_MS = 86_400_000;
const DEFAULT_MAX_RECORDS = 10_000;

export interface MemoryResponseStoreOptions {
  retentionDays: number;
  maxRecords?: number;
  /** Milliseconds since the epoch; tests pass a clock they move themselves. */
  now?: () => number;
}

interface Kept {
  record: StoredResponse;
  expiresAt: number;
}

export class MemoryResponseStore implements ResponseStore {
  /** Insertion order is write order (a rewrite moves a record to the end), so eviction takes from the front. */
  private readonly records = new Map<string, Kept>();
  private readonly retentionMs: number;
  private readonly maxRecords: number;
  private readonly now: () => number;

  constructor(options: MemoryResponseStoreOptions) {
    this.retentionMs = options.retentionDays * DAY_MS;
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.now = options.now ?? Date.now;
  }

  async put(record: StoredResponse): Promise<void> {
    this.records.delete(record.id);
    this.records.set(record.id, { record: structuredClone(record), expiresAt: this.now() + this.retentionMs });
    for (const id of this.records.keys()) {
      if (this.records.size <= this.maxRecords) break;
      this.records.delete(id);
    }
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const kept = this.live(id);
    return kept && structuredClone(kept.record);
  }

  async delete(id: string): Promise<boolean> {
    return this.live(id) !== undefined && this.records.delete(id);
  }

  async close(): Promise<void> {
    this.records.clear();
  }

  /** The record unless it expired (an expired one is dropped on the way). */
  private live(id: string): Kept | undefined {
    const kept = this.records.get(id);
    if (kept && kept.expiresAt <= this.now()) {
      this.records.delete(id);
      return undefined;
    }
    return kept;
  }
}
