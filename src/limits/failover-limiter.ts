/**
 * Keeps the gateway answering when Redis is not (DESIGN.md §5, `redis.failMode`):
 * - 'open': the call is answered by an in-process MemoryLimiter (limits hold per instance only) and
 *   onFallback is told, at most once per noticeIntervalMs so a dead Redis cannot flood the log;
 * - 'closed': the call rejects with LimiterUnavailableError (the gateway answers 503).
 * Every primary call is raced against timeoutMs, so nothing waits on Redis longer than that even if the
 * client was built without a commandTimeout (see redis-client.ts for the options that make it fail fast).
 * Redis is tried again on every call: once it answers, limiting is shared again.
 */
import { assertRules } from './gcra.js';
import { MemoryLimiter } from './memory-limiter.js';
import type { Admission, Dimension, LimitRule, Limiter } from './limiter.js';

const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_NOTICE_INTERVAL_MS = 10_000;

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
  /** Open mode only. `failures` is how many calls fell back since the previous notice, this one included. */
  onFallback?: (err: unknown, failures: number) => void;
  noticeIntervalMs?: number;
  /** Answers while the primary is down; a new MemoryLimiter by default. Closed with this limiter. */
  fallback?: Limiter;
}

export class FailoverLimiter implements Limiter {
  readonly #primary: Limiter;
  readonly #fallback: Limiter;
  readonly #failMode: 'open' | 'closed';
  readonly #timeoutMs: number;
  readonly #noticeIntervalMs: number;
  readonly #onFallback: ((err: unknown, failures: number) => void) | undefined;
  #fallbacks = 0;
  #unreported = 0;
  #lastNotice = -Infinity;

  constructor(primary: Limiter, options: FailoverLimiterOptions) {
    this.#primary = primary;
    this.#fallback = options.fallback ?? new MemoryLimiter();
    this.#failMode = options.failMode;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#noticeIntervalMs = options.noticeIntervalMs ?? DEFAULT_NOTICE_INTERVAL_MS;
    this.#onFallback = options.onFallback;
  }

  /** Calls answered by the fallback since start, for a metrics counter (onFallback is throttled). */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    assertRules(rules); // a bad rule is a bug, not an outage: never blame Redis for it
    return this.#call((limiter) => limiter.admit(subject, rules));
  }

  /** In closed mode a failed adjust rejects too: run it off the request path and log the rejection. */
  async adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void> {
    assertRules(adjustments);
    return this.#call((limiter) => limiter.adjust(subject, adjustments));
  }

  async close(): Promise<void> {
    await Promise.all([this.#primary.close(), this.#fallback.close()]);
  }

  async #call<T>(op: (limiter: Limiter) => Promise<T>): Promise<T> {
    try {
      return await this.#bounded(op(this.#primary));
    } catch (err) {
      if (this.#failMode === 'closed') throw new LimiterUnavailableError(err);
      this.#noteFallback(err);
      return op(this.#fallback);
    }
  }

  #bounded<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs <= 0) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rate limiter store did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  #noteFallback(err: unknown): void {
    this.#fallbacks += 1;
    this.#unreported += 1;
    const now = performance.now();
    if (now - this.#lastNotice < this.#noticeIntervalMs) return;
    this.#lastNotice = now;
    const failures = this.#unreported;
    this.#unreported = 0;
    this.#onFallback?.(err, failures);
  }
}
