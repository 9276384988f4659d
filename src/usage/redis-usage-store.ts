/**
 * Usage on Redis, shared by every gateway instance. Layout (P = keyPrefix; every value an integer):
 *
 *   P usage:{<keyId>}:<day>:<model>   hash, HINCRBY: requests, prompt, cached, completion, reasoning,
 *                                     estimated (requests with estimated usage), cost (nano-USD, cost.ts)
 *   P usage:index:<day>               set of "<keyId>|<model>" seen that day, so query() needs no SCAN
 *   P usage:{<keyId>}:<hour>:<model>  the same hash for one UTC hour, <hour> = YYYY-MM-DDTHH
 *   P usage:index:<hour>              set of "<keyId>|<model>" seen that hour
 *   P spend:{<keyId>}:<YYYY-MM>       INCRBY nano-USD spent by the key in the UTC month, for budgets
 *
 * Daily hashes and indexes expire retentionDays after their day ends, hourly ones hourlyRetentionDays
 * after the end of their hour's day, spend counters 40 days after their month ends (budgets only read
 * the current month). A day (`2025-01-31:`) and an hour (`2025-01-31T`) differ in the character after
 * the date, so the two kinds of keys never meet. The {keyId} hash tag keeps a key's data in one
 * cluster slot. Key ids never contain "|", so an index member splits at its first "|".
 *
 * Writes: record() only queues. Events recorded within one batch window (`batchWindowMs`, default
 * 50 ms; 0 = the same event-loop turn) are summed per key and sent as one script call (one round trip;
 * Redis runs a script whole, nothing else in between): under load, hundreds of requests cost one call
 * of a dozen commands. The client must be created with `enableOfflineQueue: true` and
 * `maxRetriesPerRequest: null`, so a batch written while Redis is away waits in ioredis' offline queue
 * until it reconnects instead of being dropped.
 *
 * Exactly once: an event's daily cell, hourly cell and spend are written by the same script call, so
 * they are applied together or not at all. ioredis resends a batch that was in flight when the
 * connection dropped, and Redis may already have run it. So every batch carries its number in this
 * store's sequence, and the script
 * applies it only if it is newer than the last one applied, kept in
 *   P usage:applied:<storeId>         the last batch number this store applied (a day's TTL, renewed)
 * One connection runs a store's batches in order, resends included, so a resend is always a number
 * already seen. A batch Redis refuses (an error reply) is reported to onError, not retried; so is a
 * write the script could not apply, which costs no other write of the batch.
 * The script touches keys of many hash tags, so it needs a single Redis, not Cluster. (docs/contract.md
 * §7.3, §16)
 *
 * Reads (query, monthlySpendUsd) answer requests (budget checks, /v1/me, /admin/usage), so they must
 * never wait in that offline queue for a Redis that may not come back: they go through `reads`, a
 * fail-fast connection (src/limits/redis-client.ts), and a failed read rejects with
 * StoreUnavailableError.
 */
import { randomBytes } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { execReplies } from '../redis/pipeline.js';
import { nanosToUsd } from './cost.js';
import {
  COUNTERS, DAY_MS, DEFAULT_HOURLY_RETENTION_DAYS, addCounters, assertMonth, eventCounters, hoursOf, isHourly, matches,
  queryDays, toRows, utcDay, utcHour, utcMonth, zeroCounters, type Cell, type Counters, type Retention,
} from './usage-cells.js';
import type { UsageEvent, UsageQuery, UsageRow, UsageStore } from './usage-store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tollgateRecordUsage(numKeys: number, ...keysAndArgs: (string | number)[]): Result<0 | string[], Context>;
  }
}

const SPEND_GRACE_DAYS = 40;
/** How long a store's last applied batch number is kept after its last write. */
const APPLIED_TTL_MS = 86_400_000;

/**
 * KEYS[1]: the store's last applied batch number; KEYS[2..]: the batch's keys. ARGV[1]: this batch's
 * number, ARGV[2]: TTL of KEYS[1] in ms, then operations, each naming its key by KEYS index:
 *   h <key> <n> <field> <increment> (n pairs) <expireAt>   HINCRBY per field, then EXPIREAT
 *   s <key> <n> <member> (n of them) <expireAt>             SADD of the members, then EXPIREAT
 *   i <key> <increment> <expireAt>                          INCRBY, then EXPIREAT
 * Returns 0 when the batch had been applied already (a resend), else the errors of the writes Redis
 * refused (none: an empty list). Each write runs under pcall: a script stops at its first error and
 * does not roll back, so one refused write (a counter past 2^63, a key of the wrong type) would cost
 * every later cell of the batch, and the batch could not be sent again (its number is applied).
 */
const RECORD_LUA = `
local SADD_CHUNK = 1000
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local failed = {}
local function write(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then failed[#failed + 1] = reply.err end
end
local i = 3
while i <= #ARGV do
  local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'h' then
    local n = tonumber(ARGV[i + 2])
    for j = i + 3, i + 1 + 2 * n, 2 do write('HINCRBY', key, ARGV[j], ARGV[j + 1]) end
    i = i + 3 + 2 * n
  elseif op == 's' then
    -- one SADD per index and batch, not per member; in chunks, as unpack() is bounded by Lua's stack
    local n = tonumber(ARGV[i + 2])
    local last = i + 2 + n
    for j = i + 3, last, SADD_CHUNK do write('SADD', key, unpack(ARGV, j, math.min(j + SADD_CHUNK - 1, last))) end
    i = i + 3 + n
  else -- 'i'
    write('INCRBY', key, ARGV[i + 2])
    i = i + 3
  end
  write('EXPIREAT', key, ARGV[i])
  i = i + 1
end
return failed
`;

/** Hash field per counter: short names, since every (day, key, model) hash repeats them. */
const FIELDS: Record<keyof Counters, string> = {
  requests: 'requests',
  promptTokens: 'prompt',
  cachedTokens: 'cached',
  completionTokens: 'completion',
  reasoningTokens: 'reasoning',
  estimatedRequests: 'estimated',
  costNanos: 'cost',
};

export interface RedisUsageStoreOptions {
  keyPrefix: string;
  retentionDays: number;
  /** How long hourly cells are kept (default 3 days); at most retentionDays (config.ts checks). */
  hourlyRetentionDays?: number;
  /** Failed writes and malformed events end here; record() never throws. */
  onError: (err: unknown) => void;
  /** How long events gather before they are written; usage and spend show this much later. */
  batchWindowMs?: number;
  /** The fail-fast connection for reads; the write connection when absent (tests with one client). */
  reads?: Redis;
}

const DEFAULT_BATCH_WINDOW_MS = 50;

/**
 * One batch window of events, summed: hash key → cell (daily and hourly), index key → members,
 * spend key → nanos.
 */
interface Batch {
  hashes: Map<string, Cell>;
  indexes: Map<string, { members: Set<string>; expireAt: number }>;
  spend: Map<string, { nanos: number; expireAt: number }>;
}

export class RedisUsageStore implements UsageStore {
  readonly #inflight = new Set<Promise<void>>();
  #batch: Batch | undefined;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  // The layout in the header comment; `period` is a day or an hour.
  readonly #hashKey = (keyId: string, period: string, model: string) =>
    `${this.options.keyPrefix}usage:{${keyId}}:${period}:${model}`;

  readonly #indexKey = (period: string) => `${this.options.keyPrefix}usage:index:${period}`;
  readonly #spendKey = (keyId: string, month: string) => `${this.options.keyPrefix}spend:{${keyId}}:${month}`;
  readonly #appliedKey: string;
  #batchNumber = 0;
  readonly #reads: Redis;
  readonly #retention: Retention;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisUsageStoreOptions,
  ) {
    // Random per store: two stores (processes) never share a sequence.
    this.#appliedKey = `${options.keyPrefix}usage:applied:${randomBytes(8).toString('hex')}`;
    this.#reads = options.reads ?? redis;
    this.#retention = {
      days: options.retentionDays,
      hourlyDays: options.hourlyRetentionDays ?? DEFAULT_HOURLY_RETENTION_DAYS,
    };
    if (typeof redis.tollgateRecordUsage !== 'function') {
      redis.defineCommand('tollgateRecordUsage', { lua: RECORD_LUA });
    }
  }

  record(event: UsageEvent): void {
    try {
      const day = utcDay(event.at);
      const hour = utcHour(event.at);
      const counters = eventCounters(event);
      const batch = (this.#batch ??= { hashes: new Map(), indexes: new Map(), spend: new Map() });
      this.#add(batch, day, undefined, event, counters);
      this.#add(batch, day, hour, event, counters);
      const spendKey = this.#spendKey(event.keyId, utcMonth(event.at));
      let spend = batch.spend.get(spendKey);
      if (!spend) batch.spend.set(spendKey, (spend = { nanos: 0, expireAt: spendExpiry(event.at) }));
      spend.nanos += counters.costNanos;
      this.#timer ??= this.#schedule();
    } catch (err) {
      this.options.onError(err);
    }
  }

  /** Adds an event to its daily cell (no hour) or hourly cell, and its member to that period's index. */
  #add(batch: Batch, day: string, hour: string | undefined, event: UsageEvent, counters: Counters): void {
    const period = hour ?? day;
    const hashKey = this.#hashKey(event.keyId, period, event.model);
    let cell = batch.hashes.get(hashKey);
    if (!cell) {
      cell = { day, ...(hour && { hour }), keyId: event.keyId, model: event.model, counters: zeroCounters() };
      batch.hashes.set(hashKey, cell);
    }
    addCounters(cell.counters, counters);
    const indexKey = this.#indexKey(period);
    let index = batch.indexes.get(indexKey);
    if (!index) batch.indexes.set(indexKey, (index = { members: new Set(), expireAt: this.#expiry(cell) }));
    index.members.add(`${event.keyId}|${event.model}`);
  }

  /** setImmediate, not a microtask, for a zero window: it gathers the events of every I/O callback in the turn. */
  #schedule(): NodeJS.Timeout | NodeJS.Immediate {
    const windowMs = this.options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    // unref: a pending batch must not keep the process alive; close() flushes it.
    return windowMs > 0 ? setTimeout(() => this.#write(), windowMs).unref() : setImmediate(() => this.#write());
  }

  /** Sends the pending batch as one numbered script call; the write is tracked until Redis answers. */
  #write(): void {
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    const batch = this.#batch;
    this.#timer = this.#batch = undefined;
    if (!batch) return;
    const keys = [this.#appliedKey];
    const args: (string | number)[] = [++this.#batchNumber, APPLIED_TTL_MS];
    const keyIndex = (key: string) => keys.push(key); // 1-based, as KEYS in Lua
    for (const [key, cell] of batch.hashes) {
      const fields = COUNTERS.filter((name) => cell.counters[name] !== 0);
      const increments = fields.flatMap((name) => [FIELDS[name], cell.counters[name]]);
      args.push('h', keyIndex(key), fields.length, ...increments, this.#expiry(cell));
    }
    for (const [key, { members, expireAt }] of batch.indexes) {
      args.push('s', keyIndex(key), members.size, ...members, expireAt);
    }
    for (const [key, { nanos, expireAt }] of batch.spend) args.push('i', keyIndex(key), nanos, expireAt);
    const write: Promise<void> = this.redis
      .tollgateRecordUsage(keys.length, ...keys, ...args)
      .then((refused) => {
        if (refused !== 0 && refused.length > 0) this.options.onError(new RefusedWritesError(refused));
      }, this.options.onError)
      .finally(() => this.#inflight.delete(write));
    this.#inflight.add(write);
  }

  /** Unix seconds: the end of the cell's day plus the retention of its kind (daily or hourly). */
  #expiry({ day, hour }: Pick<Cell, 'day' | 'hour'>): number {
    const days = hour === undefined ? this.#retention.days : this.#retention.hourlyDays;
    return (Date.parse(`${day}T00:00:00Z`) + (days + 1) * DAY_MS) / 1000;
  }

  /** Two round trips whatever the range: every period's index (days, or hours), then every matching hash. */
  async query(q: UsageQuery): Promise<UsageRow[]> {
    const days = queryDays(q, this.#retention);
    const periods = isHourly(q)
      ? days.flatMap((day) => hoursOf(day).map((hour) => ({ day, hour })))
      : days.map((day) => ({ day, hour: undefined }));
    const indexReads = this.#reads.pipeline();
    for (const { day, hour } of periods) indexReads.smembers(this.#indexKey(hour ?? day));
    const indexes = await execReplies(indexReads).catch(unavailable);
    const cells = periods.flatMap(({ day, hour }, i) =>
      (indexes[i] as string[]).flatMap((member) => {
        const cut = member.indexOf('|');
        const [keyId, model] = [member.slice(0, cut), member.slice(cut + 1)];
        return matches(q, keyId, model) ? [{ day, ...(hour && { hour }), keyId, model }] : [];
      }),
    );
    const pipeline = this.#reads.pipeline();
    for (const c of cells) pipeline.hgetall(this.#hashKey(c.keyId, c.hour ?? c.day, c.model));
    const hashes = cells.length > 0 ? await execReplies(pipeline).catch(unavailable) : [];
    return toRows(cells.map((c, i) => ({ ...c, counters: fromHash(hashes[i] as Record<string, string>) })), q);
  }

  async monthlySpendUsd(keyId: string, month: string): Promise<number> {
    assertMonth(month);
    const nanos = await this.#reads.get(this.#spendKey(keyId, month)).catch(unavailable);
    return nanosToUsd(Number(nanos ?? 0));
  }

  /** Sends what is pending now rather than next turn, then waits for every write, including later ones. */
  async flush(): Promise<void> {
    while (this.#batch || this.#inflight.size > 0) {
      this.#write();
      await Promise.all(this.#inflight);
    }
  }

  /** Flushes only: the client belongs to whoever created it. */
  async close(): Promise<void> {
    await this.flush();
  }
}

/** Writes of a batch that Redis refused; the batch's other writes were applied. */
export class RefusedWritesError extends Error {
  constructor(readonly errors: string[]) {
    super(`Redis refused ${errors.length} usage write(s) of a batch, the rest was applied: ${errors[0]}`);
    this.name = 'RefusedWritesError';
  }
}

/** Unix seconds: 40 days after the end of the event's UTC month. */
function spendExpiry(at: Date): number {
  return (Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1) + SPEND_GRACE_DAYS * DAY_MS) / 1000;
}

function unavailable(err: unknown): never {
  throw new StoreUnavailableError('usage', err);
}

function fromHash(hash: Record<string, string>): Counters {
  const counters = zeroCounters();
  for (const name of COUNTERS) counters[name] = Number(hash[FIELDS[name]] ?? 0);
  return counters;
}
