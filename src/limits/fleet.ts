/**
 * How many gateway instances share the Redis, so that while Redis is stalled or down each instance
 * limits from its share of what the fleet has left (see failover-limiter.ts).
 *
 * Every instance heartbeats one sorted set, `<prefix>rl:{fleet}:instances`: member = a random
 * instance id, score = Redis' TIME at the beat (so the instances' own clocks never matter). The same
 * script drops members older than LIVE_WINDOW_MS and returns how many are left: the live count, kept
 * as the last one seen. An instance that stops cleanly removes itself; one that dies ages out.
 * `{fleet}` is the hash tag: one key, one cluster slot, and no subject (`key:…`, `provider:…`) is named
 * `fleet`, so it never shares a name with a bucket.
 */
import { randomUUID } from 'node:crypto';
import type { Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** KEYS[1]: the set; ARGV: instance id, live window ms. Returns the live count, this instance included. */
    tollgateHeartbeat(key: string, id: string, windowMs: number): Result<number, Context>;
  }
}

/** One beat per second: a Redis call per instance per second costs nothing next to the traffic. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * An instance counts as live for this long after its last beat. Five missed beats: an instance whose
 * event loop stalls for a few seconds is still counted (over-counting only makes each share smaller,
 * which is the safe side); one that died stops counting within 5 s.
 */
export const LIVE_WINDOW_MS = 5_000;

const HEARTBEAT_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
`;

export interface FleetPresenceOptions {
  /** Told when the live count changes (the first count included), for the log. */
  onChange?: (instances: number) => void;
}

export class FleetPresence {
  readonly id = randomUUID();
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #onChange: ((instances: number) => void) | undefined;
  #instances = 1;
  #answered = false;
  #timer: NodeJS.Timeout | undefined;
  #beating = false;

  /** Borrows `redis` (the fail-fast commands connection): a beat never waits on a sick Redis for long. */
  constructor(redis: RedisClient, keyPrefix: string, options: FleetPresenceOptions = {}) {
    this.#redis = redis;
    this.#key = `${keyPrefix}rl:{fleet}:instances`;
    this.#onChange = options.onChange;
    // A fixed key count: auto-pipelining on a cluster groups a command by the slot of its first key,
    // and for a script whose count comes first that "key" would be the count itself.
    if (typeof redis.tollgateHeartbeat !== 'function') {
      redis.defineCommand('tollgateHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_LUA });
    }
  }

  /**
   * Live instances the fleet last reported, this one included; 1 until a first beat is answered (an
   * instance that never reached Redis knows of no other).
   */
  get instances(): number {
    return this.#instances;
  }

  /** Beats now, then every HEARTBEAT_INTERVAL_MS; the timer never keeps the process alive. */
  start(): void {
    void this.beat();
    this.#timer ??= setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS).unref();
  }

  /** One beat; a failed one keeps the last count (that is the point: it is what a stall falls back on). */
  async beat(): Promise<void> {
    if (this.#beating) return; // a stalled Redis must not pile up beats
    this.#beating = true;
    try {
      const instances = await this.#redis.tollgateHeartbeat(this.#key, this.id, LIVE_WINDOW_MS);
      const changed = !this.#answered || instances !== this.#instances;
      this.#answered = true;
      this.#instances = Math.max(1, instances);
      if (changed) this.#onChange?.(this.#instances);
    } catch {
      // Redis away: the limiter's own fallback reports the outage.
    } finally {
      this.#beating = false;
    }
  }

  /** Stops beating and leaves the set, so the others' shares grow back at once (best effort). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#redis.status === 'ready') await this.#redis.zrem(this.#key, this.id).catch(() => undefined);
  }
}
