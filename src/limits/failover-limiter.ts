/**
 * Keeps the gateway answering when Redis is not (`redis.failMode`):
 * - 'open': the call is answered in process, from this instance's share of what Redis last said (below);
 *   onFailure is told of every such call (a counter), onFallback at most once per noticeIntervalMs so a
 *   dead Redis cannot flood the log;
 * - 'closed': the call rejects with LimiterUnavailableError (the gateway answers 503); onFailure is told.
 * Every primary call is raced against timeoutMs, so nothing waits on Redis longer than that even if the
 * client was built without a commandTimeout (see redis-client.ts for the options that make it fail fast).
 * Redis is tried again on every call: once it answers, limiting is shared again.
 *
 * The fallback is a MemoryLimiter that mirrors Redis: every admission Redis answers stores its buckets'
 * state (full again `resetMs` from now: the remaining this instance was told, and when, refilling from
 * there as Redis does), and every adjustment Redis applied is applied to it too. While Redis does not
 * answer, the buckets are read with limit / n, n being the live instances the fleet last reported
 * (fleet.ts): the same state is then 1/n of what Redis had left, refilling at 1/n of the rate. A subject
 * this instance never saw in Redis starts from 1/n of a full bucket: refusing every key not seen yet
 * would turn a stall into an outage for them, and a key spread over the fleet is seen by every instance.
 *
 * The bound, per subject and dimension (limit L per period P), with n at least the true live count.
 * Let R be what Redis had left when it stopped answering, and A_i what the other instances admitted
 * after instance i's last answer for the subject (everything the fleet used, if i never saw it). During
 * a stall or outage of any length D the fleet admits at most R + D·L/P + Σ_i A_i / n: what a healthy
 * Redis would have admitted, plus 1/n of each instance's staleness (instance i's view, what it was last
 * told plus the refill since, is R + A_i; it admits 1/n of that and 1/n of the refill during D). When
 * the subject is served across the fleet, every A_i is about 0 and the limit holds. Whatever the
 * staleness, each share holds at most L/n, so the fleet never admits more than L + D·L/P during the
 * stall (instances limiting on their own, each from a full bucket, would admit n times that). n comes
 * from the heartbeat: it lags a joining instance by a beat, and an instance that never reached Redis
 * knows of no other (n = 1) and no state (a full bucket). (docs/contract.md §10.1)
 *
 * When Redis answers again it is authoritative again: its answer replaces the local state, and what was
 * admitted locally is not written back. For a stall nothing is lost: the admission scripts that timed
 * out still reach Redis and run when it wakes, so Redis charges every request sent during the stall (at
 * least what was admitted locally; writing back would charge them twice). A Redis that comes back with
 * its data after refusing connections (a partition) never saw them: over that period the fleet admits at
 * most the limit plus the outage's local admissions, themselves within the bound above. A Redis that
 * comes back empty (restarted without persistence) starts every bucket full, whatever this limiter does.
 */
import { ThrottledNotice } from '../observability/throttled-notice.js';
import { assertRules } from './gcra.js';
import { MemoryLimiter } from './memory-limiter.js';
import type { Admission, Dimension, LimitRule, Limiter } from './limiter.js';

const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_NOTICE_INTERVAL_MS = 10_000;
/**
 * Retry-After for a cost that fits the limit but not this instance's share of it: it cannot pass here
 * until Redis answers again, which is not "never" (so not too large), and not known either.
 */
const SHARE_TOO_SMALL_RETRY_MS = 1_000;

type Adjustment = { dimension: Dimension; limit: number; delta: number };

export class LimiterUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The rate limiter store is unavailable.', { cause });
    this.name = 'LimiterUnavailableError';
  }
}

export interface FailoverLimiterOptions {
  failMode: 'open' | 'closed';
  /** Upper bound on one primary call, in ms; 0 trusts the client's own commandTimeout. */
  timeoutMs?: number;
  /** Every primary call that failed (answered locally in open mode, refused in closed mode), unthrottled. */
  onFailure?: (err: unknown) => void;
  /** Open mode only. `failures` is how many calls fell back since the previous notice, this one included. */
  onFallback?: (err: unknown, failures: number) => void;
  noticeIntervalMs?: number;
  /** Live gateway instances sharing the primary, as last seen (FleetPresence.instances); 1 by default. */
  instances?: () => number;
  /** Mirror of the primary, answering while it is down; a new MemoryLimiter by default. Closed with this limiter. */
  fallback?: MemoryLimiter;
}

export class FailoverLimiter implements Limiter {
  readonly #primary: Limiter;
  readonly #mirror: MemoryLimiter;
  readonly #failMode: 'open' | 'closed';
  readonly #timeoutMs: number;
  readonly #onFailure: ((err: unknown) => void) | undefined;
  readonly #fallbackNotice: ThrottledNotice<unknown>;
  readonly #instances: () => number;
  #fallbacks = 0;

  constructor(primary: Limiter, options: FailoverLimiterOptions) {
    this.#primary = primary;
    this.#mirror = options.fallback ?? new MemoryLimiter();
    this.#failMode = options.failMode;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onFailure = options.onFailure;
    const onFallback = options.onFallback;
    this.#fallbackNotice = new ThrottledNotice(
      options.noticeIntervalMs ?? DEFAULT_NOTICE_INTERVAL_MS,
      (err, failures) => onFallback?.(err, failures),
    );
    this.#instances = options.instances ?? (() => 1);
  }

  /** Calls answered by the fallback since start (onFallback is throttled, onFailure is not). */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    assertRules(rules); // a bad rule is a bug, not an outage: never blame Redis for it
    let admission: Admission;
    try {
      admission = await this.#bounded(this.#primary.admit(subject, rules));
    } catch (err) {
      this.#fail(err);
      return this.#admitShare(subject, rules);
    }
    this.#mirror.restore(subject, admission.buckets);
    return admission;
  }

  /** In closed mode a failed adjust rejects too: run it off the request path and log the rejection. */
  async adjust(subject: string, adjustments: Adjustment[]): Promise<void> {
    assertRules(adjustments);
    try {
      await this.#bounded(this.#primary.adjust(subject, adjustments));
    } catch (err) {
      this.#fail(err);
      return this.#mirror.adjust(subject, shares(adjustments, this.#fleetSize()));
    }
    // Redis answers no state for an adjustment: apply it to the mirror as Redis just did.
    await this.#mirror.adjust(subject, adjustments);
  }

  async close(): Promise<void> {
    await Promise.all([this.#primary.close(), this.#mirror.close()]);
  }

  /** The mirror read as this instance's share: limits / n, reported back in the fleet's limits. */
  async #admitShare(subject: string, rules: LimitRule[]): Promise<Admission> {
    const admission = await this.#mirror.admit(subject, shares(rules, this.#fleetSize()));
    return inFleetLimits(admission, rules);
  }

  #fleetSize(): number {
    const n = this.#instances();
    return Number.isFinite(n) && n > 1 ? Math.floor(n) : 1;
  }

  /** Closed mode: rejects. Open mode: counts and (throttled) reports the fallback. */
  #fail(err: unknown): void {
    this.#onFailure?.(err);
    if (this.#failMode === 'closed') throw new LimiterUnavailableError(err);
    this.#fallbacks += 1;
    this.#fallbackNotice.note(err);
  }

  #bounded<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs <= 0) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`rate limiter store did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * The same rules over 1/n of each limit. A stored TAT then reads as 1/n of the bucket's free units
 * (GCRA: free = (period - (TAT - now)) / interval, and the interval grows n times), and each unit
 * taken pushes it n intervals ahead, so n instances together consume the bucket at its own pace.
 */
function shares<R extends { limit: number }>(rules: R[], n: number): R[] {
  return n === 1 ? rules : rules.map((rule) => ({ ...rule, limit: rule.limit / n }));
}

/** A share's admission, told in the fleet's limits (headers and 429 bodies show the configured limit). */
function inFleetLimits(admission: Admission, rules: LimitRule[]): Admission {
  const buckets = admission.buckets.map((bucket, i) => ({ ...bucket, limit: rules[i]!.limit }));
  const { denial } = admission;
  if (!denial) return { allowed: admission.allowed, buckets };
  const rule = rules.find((r) => r.dimension === denial.dimension)!;
  const remaining = buckets.find((b) => b.dimension === denial.dimension)!.remaining;
  // Too large for the share only: it may pass once Redis answers, so it is a wait, not a "never".
  const shareOnly = denial.tooLarge && rule.cost <= rule.limit;
  return {
    allowed: false,
    buckets,
    denial: {
      ...denial,
      limit: rule.limit,
      used: rule.limit - remaining,
      tooLarge: denial.tooLarge && !shareOnly,
      retryAfterMs: shareOnly ? SHARE_TOO_SMALL_RETRY_MS : denial.retryAfterMs,
    },
  };
}
