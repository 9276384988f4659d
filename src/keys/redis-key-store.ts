/**
 * Managed keys in Redis, shared by every instance.
 *
 * Layout (`<prefix>` is config.redis.keyPrefix):
 *   <prefix>key:<id>              hash of the record's fields (models and budgetUsd as JSON text)
 *   <prefix>keyhash:sha256:<hex>  string → id: the lookup for a presented key's hash
 *   <prefix>keys                  set of every id, for listing
 * The same names on one server and on a Redis Cluster. No call spans two of these keys in one command,
 * transaction or pipeline, so none needs a hash tag and each key's own name picks its slot (records and
 * lookups spread over every primary; the id set is one slot, written once per created key and read by the
 * admin list only). A create is three ordered writes, not one MULTI (docs/cluster.md §3): record, then
 * lookup, then id set. The id set is the commit point: a create cut short leaves a record nobody can
 * present (its plaintext was never returned) and nobody lists, and a lookup never names a missing record.
 * The plaintext is never written. Records are never deleted: revocation sets `revokedAt`, so usage
 * history keeps its names. A hash rather than one JSON string because a patch (HSET/HDEL of the
 * touched fields) and a revocation (HSETNX revokedAt) are then single writes: a patch racing a
 * revocation cannot write the record back un-revoked, as a read-modify-write of JSON could.
 *
 * `findByHash` runs on every proxied request, so answers (found or not) are cached in-process for at
 * most one second: a revocation or patch made on any instance is seen by all within that second.
 * Cross-instance invalidation by pub/sub would be faster, but the TTL alone meets the contract
 * without a second connection to manage.
 *
 * While Redis cannot answer, every call rejects with StoreUnavailableError (a 503 to the client), except
 * a lookup of a key this instance has resolved before: that one is answered from its last known record
 * (LastKnownKeys) and onFallback is told. The answer is cached like a fresh one, so once Redis answers
 * again a revocation made meanwhile is seen within the same TTL.
 */
import type { ChainableCommander } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import { execReplies } from '../redis/pipeline.js';
import type { ApiKeyRecord } from './api-key.js';
import {
  applyPatch, newKeyRecord, PATCHABLE_FIELDS, type KeyPatch, type ManagedKeyStore, type NewKey,
} from './key-store.js';
import { LastKnownKeys } from './last-known-keys.js';

const DEFAULT_CACHE_TTL_MS = 1_000;
/** Revoked keys fail within one second on every instance (docs/contract.md §3.1). */
const MAX_CACHE_TTL_MS = 1_000;
/** Bounds memory under a flood of random keys (each one a negative entry). */
const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
/** Far above the number of keys one deployment serves, and only found keys count towards it. */
const DEFAULT_LAST_KNOWN_MAX_ENTRIES = 10_000;
/** Fields that are not strings, stored as JSON text inside the hash. */
const JSON_FIELDS = new Set(['models', 'budgetUsd']);

export interface RedisKeyStoreOptions {
  keyPrefix: string;
  /** 0 disables the cache. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  /** How many last known records are kept for outages (least recently used leave first). */
  lastKnownMaxEntries?: number;
  /** A lookup Redis could not answer; `served` when the last known record answered it instead. */
  onFallback?: (err: unknown, served: boolean) => void;
}

interface CacheEntry {
  record: ApiKeyRecord | undefined;
  expiresAt: number;
}

export class RedisKeyStore implements ManagedKeyStore {
  /** The Redis key names of the layout above. */
  private readonly names: { record: (id: string) => string; hash: (keyHash: string) => string; ids: string };
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** Insertion order is expiry order (one TTL for all), so eviction walks from the front. */
  private readonly cache = new Map<string, CacheEntry>();
  /** Concurrent misses for one hash share one Redis lookup. */
  private readonly inflight = new Map<string, Promise<ApiKeyRecord | undefined>>();
  private readonly lastKnown: LastKnownKeys;
  private readonly onFallback: RedisKeyStoreOptions['onFallback'];

  constructor(private readonly redis: RedisClient, options: RedisKeyStoreOptions) {
    const prefix = options.keyPrefix;
    this.names = {
      record: (id) => `${prefix}key:${id}`,
      hash: (keyHash) => `${prefix}keyhash:${keyHash}`,
      ids: `${prefix}keys`,
    };
    this.ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.maxEntries = options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.lastKnown = new LastKnownKeys(options.lastKnownMaxEntries ?? DEFAULT_LAST_KNOWN_MAX_ENTRIES);
    this.onFallback = options.onFallback;
    if (!(this.ttlMs >= 0 && this.ttlMs <= MAX_CACHE_TTL_MS)) {
      throw new RangeError(
        `cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS} (revocations must propagate within 1 s)`,
      );
    }
  }

  async create(input: NewKey): Promise<{ record: ApiKeyRecord; plaintext: string }> {
    const created = newKeyRecord(input);
    const { id, keyHash } = created.record;
    // Three slots on a cluster, so three writes, in the order that keeps every state in between harmless.
    await this.redis.hset(this.names.record(id), encode(created.record)).catch(unavailable);
    await this.redis.set(this.names.hash(keyHash), id).catch(unavailable);
    await this.redis.sadd(this.names.ids, id).catch(unavailable);
    this.forget(keyHash);
    return created;
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const cached = this.cache.get(keyHash);
    if (cached && cached.expiresAt > Date.now()) return cached.record;
    return this.inflight.get(keyHash) ?? this.lookup(keyHash);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const ids = await this.redis.smembers(this.names.ids).catch(unavailable);
    // One read per record, all sent at once: a cluster pipeline must stay within one slot, and the
    // client's auto-pipelining batches these per node anyway.
    const replies = await Promise.all(ids.map((id) => this.redis.hgetall(this.names.record(id)))).catch(unavailable);
    const records = replies.map(decode);
    return records.filter((r) => r !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return decode(await this.redis.hgetall(this.names.record(id)).catch(unavailable));
  }

  /** Writes only the touched fields, so concurrent patches of different fields both land. */
  async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
    const current = await this.get(id); // ids are never deleted: existence cannot change after this
    if (!current) return undefined;
    const next = applyPatch(current, patch);
    const touched = PATCHABLE_FIELDS.filter((field) => Object.hasOwn(patch, field));
    const set = encode(Object.fromEntries(touched.map((field) => [field, next[field]])));
    const cleared = touched.filter((field) => next[field] === undefined);
    const key = this.names.record(id);
    const tx = this.redis.multi();
    if (Object.keys(set).length > 0) tx.hset(key, set);
    if (cleared.length > 0) tx.hdel(key, ...cleared);
    return this.writeAndRead(tx, key);
  }

  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    if (!(await this.get(id))) return undefined;
    const key = this.names.record(id);
    // HSETNX: revoking twice keeps the first revocation time.
    return this.writeAndRead(this.redis.multi().hsetnx(key, 'revokedAt', new Date().toISOString()), key);
  }

  async close(): Promise<void> {
    // The connection belongs to whoever passed it in; only the cache is ours.
    this.cache.clear();
    this.inflight.clear();
    this.lastKnown.clear();
  }

  private async writeAndRead(tx: ChainableCommander, key: string): Promise<ApiKeyRecord | undefined> {
    const replies = await execReplies(tx.hgetall(key)).catch(unavailable);
    const record = decode(replies.at(-1) as Record<string, string>);
    // This instance sees its own change at once (during an outage too); the others within the cache TTL.
    if (record) {
      this.forget(record.keyHash);
      this.lastKnown.update(record);
    }
    return record;
  }

  private lookup(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const startedAt = Date.now();
    // Cached only while still the current lookup: a local write forgets it, as its answer may predate the write.
    const isCurrent = () => this.inflight.get(keyHash) === pending;
    const pending = this.load(keyHash).then(
      (record) => {
        if (isCurrent()) {
          this.inflight.delete(keyHash);
          this.remember(keyHash, record, startedAt);
          if (record) this.lastKnown.set(keyHash, record);
          else this.lastKnown.delete(keyHash);
        }
        return record;
      },
      (err: unknown) => {
        if (isCurrent()) this.inflight.delete(keyHash);
        return this.fallBack(keyHash, err);
      },
    );
    this.inflight.set(keyHash, pending);
    return pending;
  }

  /**
   * The last known record when there is one (cached from now, so a stalled Redis is not waited on by
   * every request); otherwise the failure, which is not cached: the next request retries.
   */
  private fallBack(keyHash: string, err: unknown): ApiKeyRecord {
    const known = this.lastKnown.get(keyHash);
    this.onFallback?.(err, known !== undefined);
    if (!known) throw err;
    this.remember(keyHash, known, Date.now());
    return known;
  }

  private async load(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const id = await this.redis.get(this.names.hash(keyHash)).catch(unavailable);
    return id === null ? undefined : this.get(id);
  }

  /** Expiry counts from when the lookup started, so a slow answer is never trusted past the TTL. */
  private remember(keyHash: string, record: ApiKeyRecord | undefined, startedAt: number): void {
    if (this.ttlMs === 0) return;
    this.cache.delete(keyHash);
    const now = Date.now();
    for (const [hash, entry] of this.cache) {
      if (entry.expiresAt > now && this.cache.size < this.maxEntries) break;
      this.cache.delete(hash);
    }
    this.cache.set(keyHash, { record, expiresAt: startedAt + this.ttlMs });
  }

  private forget(keyHash: string): void {
    this.cache.delete(keyHash);
    this.inflight.delete(keyHash);
  }
}

function encode(fields: Partial<ApiKeyRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined) out[field] = JSON_FIELDS.has(field) ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** HGETALL answers `{}` for a missing key. */
function decode(fields: Record<string, string>): ApiKeyRecord | undefined {
  if (!fields.id) return undefined;
  const entries = Object.entries(fields).map(([field, value]) => [
    field,
    JSON_FIELDS.has(field) ? JSON.parse(value) : value,
  ]);
  return Object.fromEntries(entries) as ApiKeyRecord;
}

function unavailable(err: unknown): never {
  throw new StoreUnavailableError('keys', err);
}
