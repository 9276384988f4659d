/**
 * Limiter on Redis: one Lua script per call, so admission is one round trip and atomic across every
 * gateway instance sharing the Redis; the admissions and adjustments of one event-loop turn, whatever
 * their subjects, share that call (see admit). The script mirrors gcra.ts; it reads the clock with TIME
 * so all instances agree on "now" whatever their own clocks say.
 *
 * Keys: `<prefix>rl:{<subject>}:<dimension>`, holding the TAT in ms as a string. The `{subject}` hash
 * tag puts all buckets of a subject in one cluster slot, which a multi-key script needs on Redis Cluster.
 */
import calculateSlot from 'cluster-key-slot';
import type { Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { EPSILON_MS, EXPIRY_MARGIN_MS, PERIOD_MS, assertRules, toAdmission } from './gcra.js';
import type { Admission, Dimension, LimitRule, Limiter } from './limiter.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** numKeys, then KEYS, then ARGV as described on ADMIT_LUA. */
    tollgateAdmit(numKeys: number, ...keysAndArgs: string[]): Result<string, Context>;
  }
}

// Server time in ms (TIME is allowed in scripts since Redis 5's effect replication),
// and storing a TAT: %.17g round-trips a double (Lua's tostring keeps 14 digits, ~0.1 ms here);
// a TAT not in the future is a full bucket, which is the same as no key.
const PRELUDE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local function load(key)
  return math.max(tonumber(redis.call('GET', key)) or now, now)
end
local function store(key, tat, margin)
  if tat > now then
    redis.call('SET', key, string.format('%.17g', tat), 'PX', math.ceil(tat - now + margin))
  else
    redis.call('DEL', key)
  end
end
`;

/**
 * Admits a batch: the admissions that arrived in the same event-loop turn, in arrival order, with
 * exactly the outcome of one script per admission run back to back at the same instant. An adjustment
 * is an admission that costs nothing and carries its delta: its buckets move exactly as adjustTat()
 * moves them, and its reply is not read.
 * KEYS: the buckets the batch touches, of any number of subjects. ARGV[1], one comma-separated string: epsilon ms,
 * expiry margin ms, then per admission: its rule count n, then n times: key index (1-based), period ms,
 * limit, cost, carry (earlier settlements, applied first and kept even when denied; see LimitRule.carry).
 * Each bucket is read once and written once however many admissions touch it.
 * Returns per admission one comma-separated string, joined by ';': denied (1-based rule, 0 = admitted),
 * tooLarge 0/1, retryAfterMs, then remaining and resetMs per rule.
 * Strings each way rather than arrays: ioredis spends about half as much client CPU per call on them,
 * and this call is on every request's path. Mirrors evaluate() in gcra.ts.
 */
const ADMIT_LUA = `${PRELUDE}
local arg = {}
for v in string.gmatch(ARGV[1], '[^,]+') do arg[#arg + 1] = tonumber(v) end
local eps, margin = arg[1], arg[2]
local bucket, dirty = {}, {}
for k = 1, #KEYS do bucket[k] = load(KEYS[k]) end
-- %d: table.concat would print large numbers as 1e+15
local function int(n) return string.format('%d', n) end
local replies = {}
local pos = 3
while pos <= #arg do
  local n = arg[pos]
  local key, period, limit, cost, carry, tat = {}, {}, {}, {}, {}, {}
  local denied, tooLarge, wait = 0, 0, 0
  for i = 1, n do
    local base = pos + 5 * i - 4
    key[i], period[i], limit[i] = arg[base], arg[base + 1], arg[base + 2]
    cost[i], carry[i] = arg[base + 3], arg[base + 4]
    tat[i] = bucket[key[i]]
    if carry[i] ~= 0 then tat[i] = math.max(now, tat[i] + carry[i] * (period[i] / limit[i])) end
    if cost[i] > limit[i] then
      -- can never fit: reported before any bucket that only needs time
      if tooLarge == 0 then denied, tooLarge, wait = i, 1, 0 end
    elseif tooLarge == 0 then
      local over = tat[i] + cost[i] * (period[i] / limit[i]) - now - period[i]
      if over > eps and over > wait then denied, wait = i, over end
    end
  end
  pos = pos + 1 + 5 * n
  local reply = {int(denied), int(tooLarge), int(math.ceil(wait))}
  for i = 1, n do
    local interval = period[i] / limit[i]
    if denied == 0 then tat[i] = tat[i] + cost[i] * interval end
    if denied == 0 or carry[i] ~= 0 then bucket[key[i]], dirty[key[i]] = tat[i], true end
    local remaining = math.floor((period[i] + eps - (tat[i] - now)) / interval)
    reply[2 + 2 * i] = int(math.min(limit[i], math.max(0, remaining)))
    reply[3 + 2 * i] = int(math.max(0, math.ceil(tat[i] - now - eps)))
  end
  replies[#replies + 1] = table.concat(reply, ',')
end
for k = 1, #KEYS do
  if dirty[k] then store(KEYS[k], bucket[k], margin) end
end
return table.concat(replies, ';')
`;

/** The admit script's ioredis command name (redis-client.ts keeps it out of auto-pipelining). */
export const ADMIT_COMMAND = 'tollgateAdmit';

/** Admissions per script call: bounds how long one call keeps Redis busy. */
const MAX_BATCH = 64;

/** An admission, or an adjustment queued as one (rules of cost 0 carrying the deltas). */
interface QueuedCall {
  subject: string;
  rules: LimitRule[];
  resolve(admission: Admission): void;
  reject(err: unknown): void;
}

/** The script's reply: per call of the batch, in order, separated by ';'. */
function resolveBatch(batch: QueuedCall[], reply: string): void {
  const replies = reply.split(';');
  for (let i = 0; i < batch.length; i++) {
    const { rules, resolve } = batch[i]!;
    const numbers = replies[i]!.split(',').map(Number);
    const states = rules.map((_, r) => ({ remaining: numbers[3 + 2 * r]!, resetMs: numbers[4 + 2 * r]! }));
    const verdict = { denied: numbers[0]! - 1, tooLarge: numbers[1] === 1, retryAfterMs: numbers[2]!, states };
    resolve(toAdmission(rules, verdict));
  }
}

export class RedisLimiter implements Limiter {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #cluster: boolean;
  /** Calls of this turn by #batchGroup, each in arrival order. */
  #queued = new Map<number, QueuedCall[]>();
  #flushScheduled = false;

  /**
   * Borrows `redis`: close() does not disconnect it, whoever created it does. See redis-client.ts for the
   * client options the limiter expects. Do not also set ioredis' own `keyPrefix` on this client.
   */
  constructor(redis: RedisClient, keyPrefix = 'tollgate:') {
    // A brace in the prefix would become the hash tag and put every subject in one slot.
    if (/[{}]/.test(keyPrefix)) throw new RangeError(`keyPrefix must not contain braces: ${keyPrefix}`);
    this.#redis = redis;
    this.#prefix = keyPrefix;
    this.#cluster = redis.isCluster;
    // defineCommand makes ioredis send EVALSHA and fall back to EVAL on NOSCRIPT (e.g. after a restart).
    if (typeof redis.tollgateAdmit !== 'function') redis.defineCommand(ADMIT_COMMAND, { lua: ADMIT_LUA });
  }

  key(subject: string, dimension: Dimension): string {
    return `${this.#prefix}rl:{${subject}}:${dimension}`;
  }

  /**
   * Queued until the end of this event-loop turn (setImmediate: after every request that arrived in
   * the same I/O poll), then sent with the turn's other calls, of every subject, as one script call.
   * Each request still waits for exactly one round trip; under load, one call carries many admissions.
   */
  async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    assertRules(rules);
    if (rules.length === 0) return { allowed: true, buckets: [] };
    return this.#enqueue(subject, rules);
  }

  /** Rides in the same script call as the turn's admissions: settlements of many subjects cost one call. */
  async adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void> {
    assertRules(adjustments);
    if (adjustments.length === 0) return;
    const rules = adjustments.map(({ dimension, limit, delta }) => ({ dimension, limit, cost: 0, carry: delta }));
    await this.#enqueue(subject, rules);
  }

  /**
   * Which calls of a turn may share one script call. On a single Redis, all of them (group 0). A script's
   * keys must all live in one slot on Redis Cluster: there the group is the slot of the subject's hash
   * tag, which every bucket key of the subject shares (key() puts the subject in braces), so a turn
   * costs one script call per slot it touches, each call on the primary that owns that slot.
   */
  #batchGroup(subject: string): number {
    return this.#cluster ? calculateSlot(this.key(subject, 'rpm')) : 0;
  }

  /** Nothing to release: the connection belongs to the caller. */
  async close(): Promise<void> {}

  #enqueue(subject: string, rules: LimitRule[]): Promise<Admission> {
    return new Promise((resolve, reject) => {
      const group = this.#batchGroup(subject);
      const queue = this.#queued.get(group);
      if (queue) queue.push({ subject, rules, resolve, reject });
      else this.#queued.set(group, [{ subject, rules, resolve, reject }]);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  /**
   * One script call per group and per MAX_BATCH calls, in arrival order (one connection runs them in the
   * order sent, so a subject split over two calls is still decided in order). Sent now, not through
   * ioredis' auto-pipelining (redis-client.ts leaves this command out of it), which would wait for the
   * next turn: the batching has already been done here.
   */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const queued = this.#queued;
    this.#queued = new Map();
    for (const queue of queued.values()) {
      for (let start = 0; start < queue.length; start += MAX_BATCH) this.#send(queue.slice(start, start + MAX_BATCH));
    }
  };

  #send(batch: QueuedCall[]): void {
    const { keys, args } = this.#batchCall(batch);
    this.#redis
      .tollgateAdmit(keys.length, ...keys, args)
      .then((reply) => resolveBatch(batch, reply))
      // A failed call, or a reply that does not parse: every call of the batch still settles
      // (rejecting one already resolved does nothing), so no request waits forever.
      .catch((err: unknown) => batch.forEach((call) => call.reject(err)));
  }

  /** Each bucket is one KEYS entry however many calls of the batch touch it. */
  #batchCall(batch: QueuedCall[]): { keys: string[]; args: string } {
    const keys: string[] = [];
    const keyIndex = new Map<string, number>();
    let args = `${EPSILON_MS},${EXPIRY_MARGIN_MS}`;
    for (const { subject, rules } of batch) {
      args += `,${rules.length}`;
      for (const rule of rules) {
        const key = this.key(subject, rule.dimension);
        let index = keyIndex.get(key);
        if (index === undefined) keyIndex.set(key, (index = keys.push(key)));
        args += `,${index},${PERIOD_MS[rule.dimension]},${rule.limit},${rule.cost},${rule.carry ?? 0}`;
      }
    }
    return { keys, args };
  }
}
