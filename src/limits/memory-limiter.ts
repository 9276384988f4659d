/**
 * Limiter in process memory: same GCRA (gcra.ts) and semantics as RedisLimiter, for a single instance,
 * for tests, and as FailoverLimiter's mirror of Redis, answering while Redis is down. Counts are per
 * process: N instances each admit the full limit unless, as FailoverLimiter does, each is given 1/N.
 */
import { adjustTat, assertRules, evaluate, toAdmission } from './gcra.js';
import type { Admission, BucketState, Dimension, LimitRule, Limiter } from './limiter.js';

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export interface MemoryLimiterOptions {
  /** Clock in ms; monotonic by default so a wall-clock step cannot refill or freeze buckets. Tests inject one. */
  now?: () => number;
  /** How often full buckets are dropped from the map. */
  sweepIntervalMs?: number;
}

/** TATs of one subject's buckets; a TAT not in the future means a full bucket, which is not kept. */
type SubjectBuckets = Partial<Record<Dimension, number>>;

export class MemoryLimiter implements Limiter {
  /** Subject → its buckets: one map lookup per call, whatever the number of dimensions. */
  readonly #subjects = new Map<string, SubjectBuckets>();
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
    const buckets = this.#bucketsOf(subject);
    const verdict = evaluate(rules.map((rule) => buckets[rule.dimension]), rules, now);
    for (let i = 0; i < rules.length; i++) {
      // Admitted: every bucket moved. Denied: only the carried settlements stick.
      if (verdict.denied < 0 || rules[i]!.carry) setTat(buckets, rules[i]!.dimension, verdict.tats[i]!, now);
    }
    return toAdmission(rules, verdict);
  }

  async adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void> {
    assertRules(adjustments);
    const now = this.#now();
    const buckets = this.#bucketsOf(subject);
    for (const { dimension, limit, delta } of adjustments) {
      setTat(buckets, dimension, adjustTat(buckets[dimension], now, dimension, limit, delta), now);
    }
  }

  /**
   * Sets each of the subject's buckets to a state another limiter reported (full again `resetMs` from
   * now): FailoverLimiter mirrors what Redis last said, so a fallback starts from it, not from full.
   */
  restore(subject: string, buckets: readonly BucketState[]): void {
    const now = this.#now();
    const stored = this.#bucketsOf(subject);
    for (const { dimension, resetMs } of buckets) setTat(stored, dimension, now + resetMs, now);
  }

  /** Drops every bucket that is full again, and subjects left without one; returns how many buckets are left. */
  sweep(): number {
    const now = this.#now();
    let left = 0;
    for (const [subject, buckets] of this.#subjects) {
      for (const dimension of Object.keys(buckets) as Dimension[]) setTat(buckets, dimension, buckets[dimension]!, now);
      const count = Object.keys(buckets).length;
      if (count === 0) this.#subjects.delete(subject);
      left += count;
    }
    return left;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#subjects.clear();
  }

  /** Created empty on first use; an empty one is a subject whose buckets are all full, removed by the sweep. */
  #bucketsOf(subject: string): SubjectBuckets {
    let buckets = this.#subjects.get(subject);
    if (!buckets) this.#subjects.set(subject, (buckets = {}));
    return buckets;
  }
}

function setTat(buckets: SubjectBuckets, dimension: Dimension, tat: number, now: number): void {
  if (tat > now) buckets[dimension] = tat;
  else delete buckets[dimension];
}
