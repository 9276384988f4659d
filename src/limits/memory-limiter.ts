/**
 * Limiter in process memory: same GCRA (gcra.ts) and semantics as RedisLimiter, for a single instance,
 * for tests, and as FailoverLimiter's fallback while Redis is down. Counts are per process: N instances
 * each admit the full limit.
 */
import { adjustTat, assertRules, evaluate, toAdmission } from './gcra.js';
import type { Admission, Dimension, LimitRule, Limiter } from './limiter.js';

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export interface MemoryLimiterOptions {
  /** Clock in ms; monotonic by default so a wall-clock step cannot refill or freeze buckets. Tests inject one. */
  now?: () => number;
  /** How often full buckets are dropped from the map. */
  sweepIntervalMs?: number;
}

export class MemoryLimiter implements Limiter {
  /** Bucket key → TAT; a TAT not in the future means a full bucket, which the sweep removes. */
  readonly #tats = new Map<string, number>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryLimiterOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    // unref: a pending sweep must not keep the process alive.
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS).unref();
  }

  async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    assertRules(rules);
    const now = this.#now();
    const keys = rules.map((rule) => bucketKey(subject, rule.dimension));
    const verdict = evaluate(keys.map((key) => this.#tats.get(key)), rules, now);
    keys.forEach((key, i) => {
      // Admitted: every bucket moved. Denied: only the carried settlements stick.
      if (verdict.denied < 0 || rules[i]!.carry) this.#store(key, verdict.tats[i]!, now);
    });
    return toAdmission(rules, verdict);
  }

  async adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void> {
    assertRules(adjustments);
    const now = this.#now();
    for (const { dimension, limit, delta } of adjustments) {
      const key = bucketKey(subject, dimension);
      this.#store(key, adjustTat(this.#tats.get(key), now, dimension, limit, delta), now);
    }
  }

  /** Drops every bucket that is full again; returns how many are left. */
  sweep(): number {
    const now = this.#now();
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    return this.#tats.size;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#tats.clear();
  }

  #store(key: string, tat: number, now: number): void {
    if (tat > now) this.#tats.set(key, tat);
    else this.#tats.delete(key);
  }
}

function bucketKey(subject: string, dimension: Dimension): string {
  return `${subject}\u0000${dimension}`;
}
