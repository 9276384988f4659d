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
 * until it reconnects instead of being dropped (a Cluster client: WRITES_CLUSTER_OPTIONS, which also
 * follows redirections long enough to outlast a failover or a slot migration).
 *
 * Exactly once: an event's daily cell, hourly cell and spend share the key's hash tag, so they are
 * written by the same script call: applied together or not at all. ioredis resends a call that was in
 * flight when a connection dropped (and on a cluster, one redirected by MOVED, ASK or TRYAGAIN, or cut by
 * a failover), and Redis may already have run it. So every batch carries its number in this store's
 * sequence, and each script call records the number it applied in a sorted set, kept in
 *   P usage:applied:<storeId>            on a single Redis
 *   P usage:applied:{<slotTag>}:<storeId>  on a cluster, one per slot written to (src/redis/slot-tags.ts)
 * (a day's TTL, renewed), and skips a number already there: a resend is applied once, whatever order
 * the calls arrive in. Each call also drops the numbers below this store's oldest call still awaiting a
 * reply in that slot: those replied, and ioredis never resends a call that had its reply, so the set
 * holds little more than the calls in flight. A batch Redis refuses (an error reply) is reported to
 * onError, not retried; so is a write the script could not apply, which costs no other write of the batch.
 *
 * Redis Cluster: a script may only touch keys of one slot. So a batch is written as one script call per
 * slot its keys fall in (#groupOf), each with its own guard in that slot; on a single Redis every key is
 * in group 0: one call per batch, as before. The index sets are not tagged (one per day, one per hour, so
 * query() reads one set per period): on a cluster each is a group of its own, spread over the nodes by
 * period; its SADDs are idempotent anyway. docs/cluster.md §2 has the reasoning and what a failover
 * or a resharding costs.
 *
 * Reads (query, monthlySpendUsd) answer requests (budget checks, /v1/me, /admin/usage), so they must
 * never wait in that offline queue for a Redis that may not come back: they go through `reads`, a
 * fail-fast connection (src/limits/redis-client.ts), and a failed read rejects with
 * StoreUnavailableError.
 */
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, ClusterOptions, Result } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import { execReplies } from '../redis/pipeline.js';
import { slotTag } from '../redis/slot-tags.js';
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
 * KEYS[1]: the sorted set of the batch numbers this store applied in the slot; KEYS[2..]: the batch's
 * keys. ARGV[1]: this batch's number, ARGV[2]: TTL of KEYS[1] in ms, ARGV[3]: the oldest number of this
 * store still awaiting a reply in the slot (the lower ones are dropped), then operations, each naming its
 * key by KEYS index:
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
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
-- ZADD before pruning, so the set never empties: a key deleted mid-script in a slot being migrated
-- could not be written again ("non local key")
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local failed = {}
local function write(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then failed[#failed + 1] = reply.err end
end
local i = 4
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
  reads?: RedisClient;
}

const DEFAULT_BATCH_WINDOW_MS = 50;

/**
 * What a Cluster client for the store's writes needs besides the offline queue: a call is resent, never
 * dropped, while its slot is being migrated (TRYAGAIN, every 100 ms) or its primary fails over (the
 * connection closed, CLUSTERDOWN: every 100 ms, after refreshing the slot map), and for a good while:
 * each redirection or retry costs one of maxRedirections, and a call that runs out is lost (reported to
 * onError). 600 at 100 ms outlasts a minute of failover. The per-node connections keep
 * `maxRetriesPerRequest: null` (in redisOptions). Auto-pipelining stays off: ioredis only re-routes a
 * cluster pipeline whose commands all failed alike, so one redirected call in a pipeline of several
 * would be lost.
 */
export const WRITES_CLUSTER_OPTIONS = {
  enableOfflineQueue: true,
  enableAutoPipelining: false,
  maxRedirections: 600,
  retryDelayOnMoved: 0,
  retryDelayOnTryAgain: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnFailover: 100,
} as const satisfies ClusterOptions;

/**
 * One batch window of events, summed: hash key → cell (daily and hourly), index key → members,
 * spend key → nanos.
 */
interface Batch {
  hashes: Map<string, Cell>;
  indexes: Map<string, { members: Set<string>; expireAt: number }>;
  spend: Map<string, { nanos: number; expireAt: number }>;
}

/** One write of a batch: its key, and its operation as RECORD_LUA takes it less the key's index. */
interface Write {
  key: string;
  op: 'h' | 's' | 'i';
  args: (string | number)[];
}

/**
 * Which keys may share one script call, or one read pipeline: on Redis Cluster those of one slot (the
 * slot's number), on a single Redis all of them (0).
 */
function groupOf(client: RedisClient, key: string): number {
  return client.isCluster ? calculateSlot(key) : 0;
}

/** Items by groupOf their key, each group in the items' order. */
function grouped<T>(client: RedisClient, items: T[], keyOf: (item: T) => string): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groupOf(client, keyOf(item));
    const members = groups.get(group);
    if (members) members.push(item);
    else groups.set(group, [item]);
  }
  return groups;
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
  readonly #storeId: string;
  #batchNumber = 0;
  /** Per group, the numbers of this store's calls awaiting a reply, oldest first (Sets keep insertion order). */
  readonly #pending = new Map<number, Set<number>>();
  readonly #reads: RedisClient;
  readonly #retention: Retention;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisUsageStoreOptions,
  ) {
    // A brace in the prefix would become the hash tag of every key: the guard's tag would not be its slot's.
    if (/[{}]/.test(options.keyPrefix)) throw new RangeError(`keyPrefix must not contain braces: ${options.keyPrefix}`);
    // Random per store: two stores (processes) never share a sequence.
    this.#storeId = randomBytes(8).toString('hex');
    this.#reads = options.reads ?? redis;
    this.#retention = {
      days: options.retentionDays,
      hourlyDays: options.hourlyRetentionDays ?? DEFAULT_HOURLY_RETENTION_DAYS,
    };
    if (typeof redis.tollgateRecordUsage !== 'function') {
      redis.defineCommand('tollgateRecordUsage', { lua: RECORD_LUA });
    }
  }

  /** The batch guard of a group: in the group's slot on a cluster (see the header comment). */
  #appliedKey(group: number): string {
    const tag = this.redis.isCluster ? `{${slotTag(group)}}:` : '';
    return `${this.options.keyPrefix}usage:applied:${tag}${this.#storeId}`;
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

  /** Sends the pending batch as one numbered script call per group; each is tracked until Redis answers. */
  #write(): void {
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    const batch = this.#batch;
    this.#timer = this.#batch = undefined;
    if (!batch) return;
    const number = ++this.#batchNumber;
    for (const [group, writes] of grouped(this.redis, this.#writes(batch), (write) => write.key)) {
      this.#call(group, number, writes);
    }
  }

  /** The batch's writes in the order the script applies them: cells, then indexes, then spend. */
  #writes(batch: Batch): Write[] {
    const writes: Write[] = [];
    for (const [key, cell] of batch.hashes) {
      const fields = COUNTERS.filter((name) => cell.counters[name] !== 0);
      const increments = fields.flatMap((name) => [FIELDS[name], cell.counters[name]]);
      writes.push({ key, op: 'h', args: [fields.length, ...increments, this.#expiry(cell)] });
    }
    for (const [key, { members, expireAt }] of batch.indexes) {
      writes.push({ key, op: 's', args: [members.size, ...members, expireAt] });
    }
    for (const [key, { nanos, expireAt }] of batch.spend) writes.push({ key, op: 'i', args: [nanos, expireAt] });
    return writes;
  }

  /** One script call: a group's writes under its guard, as batch `number`. */
  #call(group: number, number: number, writes: Write[]): void {
    let pending = this.#pending.get(group);
    if (!pending) this.#pending.set(group, (pending = new Set()));
    pending.add(number);
    const oldestPending = pending.values().next().value as number;
    const keys = [this.#appliedKey(group), ...writes.map((write) => write.key)];
    const args = writes.flatMap((write, i) => [write.op, i + 2, ...write.args]); // KEYS index, 1-based
    const call: Promise<void> = this.redis
      .tollgateRecordUsage(keys.length, ...keys, number, APPLIED_TTL_MS, oldestPending, ...args)
      .then((refused) => {
        if (refused !== 0 && refused.length > 0) this.options.onError(new RefusedWritesError(refused));
      }, this.options.onError)
      .finally(() => {
        this.#inflight.delete(call);
        pending.delete(number);
        if (pending.size === 0) this.#pending.delete(group);
      });
    this.#inflight.add(call);
  }

  /** Unix seconds: the end of the cell's day plus the retention of its kind (daily or hourly). */
  #expiry({ day, hour }: Pick<Cell, 'day' | 'hour'>): number {
    const days = hour === undefined ? this.#retention.days : this.#retention.hourlyDays;
    return (Date.parse(`${day}T00:00:00Z`) + (days + 1) * DAY_MS) / 1000;
  }

  /**
   * Two round trips whatever the range: every period's index (days, or hours), then every matching hash
   * (on a cluster, one pipeline per slot within each, sent together).
   */
  async query(q: UsageQuery): Promise<UsageRow[]> {
    const days = queryDays(q, this.#retention);
    const periods = isHourly(q)
      ? days.flatMap((day) => hoursOf(day).map((hour) => ({ day, hour })))
      : days.map((day) => ({ day, hour: undefined }));
    const indexKeys = periods.map(({ day, hour }) => this.#indexKey(hour ?? day));
    const indexes = await this.#readEach(indexKeys, (pipeline, key) => pipeline.smembers(key));
    const cells = periods.flatMap(({ day, hour }, i) =>
      (indexes[i] as string[]).flatMap((member) => {
        const cut = member.indexOf('|');
        const [keyId, model] = [member.slice(0, cut), member.slice(cut + 1)];
        return matches(q, keyId, model) ? [{ day, ...(hour && { hour }), keyId, model }] : [];
      }),
    );
    const hashKeys = cells.map((c) => this.#hashKey(c.keyId, c.hour ?? c.day, c.model));
    const hashes = await this.#readEach(hashKeys, (pipeline, key) => pipeline.hgetall(key));
    return toRows(cells.map((c, i) => ({ ...c, counters: fromHash(hashes[i] as Record<string, string>) })), q);
  }

  /**
   * One read per key, replies in key order: a pipeline per group (a cluster pipeline must stay within one
   * slot's node), all sent at once. Rejects with StoreUnavailableError.
   */
  async #readEach(keys: string[], read: (pipeline: ChainableCommander, key: string) => void): Promise<unknown[]> {
    const replies = new Array<unknown>(keys.length);
    const positions = keys.map((key, position) => ({ key, position }));
    const groups = [...grouped(this.#reads, positions, ({ key }) => key).values()];
    const readGroup = async (members: typeof positions) => {
      const pipeline = this.#reads.pipeline();
      for (const { key } of members) read(pipeline, key);
      const groupReplies = await execReplies(pipeline);
      members.forEach(({ position }, i) => (replies[position] = groupReplies[i]));
    };
    await Promise.all(groups.map(readGroup)).catch(unavailable);
    return replies;
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
