/**
 * Stored-response records on Redis, shared by every gateway instance, so a follow-up or a retrieve
 * reaching another instance finds the record. Layout (`<prefix>` is config.redis.keyPrefix):
 *   <prefix>response:<id>   the record as JSON, written with SET … EX retentionDays (Redis expires it)
 * The same name on one server and on a Redis Cluster: every call is one command on one key, so the id
 * alone picks the slot (records spread over every primary) and needs no hash tag. A chain is walked one
 * GET per record (history.ts), each going to the primary that holds that record.
 *
 * Every call answers a request (a record is written before the answer's last byte), so it goes through the
 * fail-fast connection (src/limits/redis-client.ts): while Redis is away a call rejects at once, or after
 * redis.commandTimeoutMs, with StoreUnavailableError (a 503 to the client), and onError hears of it. There
 * is no fallback to memory whatever redis.failMode says: a record kept only here would be missing on every
 * other instance, and one written to memory during an outage would be invisible once Redis answers again.
 */
import { StoreUnavailableError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import type { ResponseStore, StoredResponse } from './stored-response.js';

const DAY_S = 86_400;

export interface RedisResponseStoreOptions {
  keyPrefix: string;
  retentionDays: number;
  /** A call Redis could not answer (it rejects with StoreUnavailableError too). */
  onError?: (err: unknown) => void;
}

export class RedisResponseStore implements ResponseStore {
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly onError: RedisResponseStoreOptions['onError'];

  constructor(private readonly redis: RedisClient, options: RedisResponseStoreOptions) {
    this.prefix = `${options.keyPrefix}response:`;
    this.ttlSeconds = options.retentionDays * DAY_S;
    this.onError = options.onError;
  }

  async put(record: StoredResponse): Promise<void> {
    const json = JSON.stringify(record);
    await this.redis.set(this.prefix + record.id, json, 'EX', this.ttlSeconds).catch(this.unavailable);
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const json = await this.redis.get(this.prefix + id).catch(this.unavailable);
    return json === null ? undefined : (JSON.parse(json) as StoredResponse);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.del(this.prefix + id).catch(this.unavailable)) > 0;
  }

  async close(): Promise<void> {
    // The connection belongs to whoever passed it in (plugins/redis.ts closes it).
  }

  private readonly unavailable = (err: unknown): never => {
    this.onError?.(err);
    throw new StoreUnavailableError('responses', err);
  };
}
