/**
 * The accounting of one subject's lease: units this instance took from the shared limiter ahead of
 * need (the pool), handed to requests locally, and given back when the lease ends. Pure bookkeeping on
 * an injected clock; lease-limiter.ts decides when to lease and talks to the limiter.
 *
 * Why this is exact. Every pooled unit was consumed in the shared bucket before any request got it, so
 * the fleet can never admit more units than the bucket gave out. What remains is time: a unit booked
 * when leased rather than when used would start refilling early wherever the exact bucket would have
 * been full in between (GCRA caps a full bucket; refill while full is lost). So each dimension also
 * runs `exact`: the TAT the shared bucket would hold had this instance's requests been charged one by
 * one at their own time (anchored at every answer as the answer's TAT minus the pool). Whenever a
 * segment between two answers closes, the difference between that and what the shared bucket will hold
 * once the pool is refunded is charged (`correction`), from the pool first. With no full bucket in
 * between, GCRA is additive and the correction is 0: the bucket ends where per-request calls leave it.
 * Residual: the answer's reset is whole ms and read one round trip late, so on a bucket that was full
 * the correction can be short by about 1 ms plus one round trip of refill per segment.
 */
import { adjustTat, intervalMs } from './gcra.js';
import type { Admission, BucketState, Dimension, LimitRule } from './limiter.js';

export interface LeaseDimension {
  dimension: Dimension;
  limit: number;
}

export class Lease {
  readonly dims: readonly LeaseDimension[];
  readonly #interval: number[];
  /** Units consumed in the shared bucket and not yet given to any request. */
  readonly pool: number[];
  /** Per dimension: the shared bucket's TAT at the last answer, and its remaining then. */
  readonly #tat: number[];
  readonly #remaining: number[];
  /** Units given out locally since that answer (headers subtract them). */
  readonly #usedSince: number[];
  /** The shared bucket's TAT had every local request been charged at its own time (see above). */
  readonly #exact: number[];
  /** The last lease's size per dimension: renewals start when the pool falls below half of it. */
  slice: number[];
  #sent = 0;
  #anchored = 0;

  constructor(rules: readonly LimitRule[]) {
    this.dims = rules.map(({ dimension, limit }) => ({ dimension, limit }));
    this.#interval = rules.map((r) => intervalMs(r.dimension, r.limit));
    const zeros = () => rules.map(() => 0);
    [this.pool, this.#tat, this.#remaining, this.#usedSince, this.#exact, this.slice] =
      [zeros(), zeros(), zeros(), zeros(), zeros(), zeros()];
  }

  /** Same dimensions with the same limits, in the same order: a tier change ends the lease. */
  matches(rules: readonly LimitRule[]): boolean {
    if (rules.length !== this.dims.length) return false;
    for (let i = 0; i < rules.length; i++) {
      if (rules[i]!.dimension !== this.dims[i]!.dimension || rules[i]!.limit !== this.dims[i]!.limit) return false;
    }
    return true;
  }

  /** Whether every rule's cost, after its carried settlement, fits the pool. */
  fits(rules: readonly LimitRule[]): boolean {
    for (let i = 0; i < rules.length; i++) {
      if (rules[i]!.cost + (rules[i]!.carry ?? 0) > this.pool[i]!) return false;
    }
    return true;
  }

  /**
   * Admits from the pool (call fits() first). A carried settlement is applied to the pool: a charge is
   * paid from units already consumed in the bucket, a refund puts units back in it, refunded when the
   * lease ends; either way the bucket's books stay what per-request calls would have made them.
   */
  take(rules: readonly LimitRule[], now: number): Admission {
    const buckets: BucketState[] = [];
    for (let i = 0; i < rules.length; i++) {
      const { dimension, limit, cost, carry = 0 } = rules[i]!;
      this.pool[i]! -= cost + carry;
      this.#usedSince[i]! += cost + carry;
      if (carry) this.#exact[i] = adjustTat(this.#exact[i], now, dimension, limit, carry);
      this.#exact[i] = adjustTat(this.#exact[i], now, dimension, limit, cost);
      buckets.push(this.bucket(i, now));
    }
    return { allowed: true, buckets };
  }

  /**
   * Conservative headers: what the bucket had left at the last answer (this instance's pool counted as
   * spent) minus what was given out since, so never more than real; reset likewise.
   */
  bucket(i: number, now: number): BucketState {
    const { dimension, limit } = this.dims[i]!;
    const remaining = Math.min(limit, Math.max(0, Math.floor(this.#remaining[i]! - this.#usedSince[i]!)));
    const resetMs = Math.max(0, Math.ceil(this.#tat[i]! + this.#usedSince[i]! * this.#interval[i]! - now));
    return { dimension, limit, remaining, resetMs };
  }

  /**
   * A call to the shared limiter is about to go out: closes the segment since the last answer and
   * returns its sequence number and the correction the pool could not pay (units to charge with it).
   */
  send(now: number): { seq: number; debt: number[] } {
    const debt = this.dims.map((_, i) => {
      const owed = this.#correction(i, now);
      const paid = Math.min(owed, Math.max(0, this.pool[i]!));
      this.pool[i]! -= paid;
      return owed - paid;
    });
    return { seq: ++this.#sent, debt };
  }

  /**
   * An answer of the call numbered `seq` (in the order they were sent, which is the order the bucket
   * ran them), received at `now`, with `leased` units added to the pool when it was an admitted lease.
   */
  answer(seq: number, buckets: readonly BucketState[], leased: readonly number[] | undefined, now: number): void {
    for (let i = 0; i < this.dims.length; i++) {
      const units = leased?.[i] ?? 0;
      this.pool[i]! += units;
      if (seq < this.#anchored) {
        // A newer answer already counted these units as spent; they are pooled after all.
        this.#exact[i] = Math.max(now, this.#exact[i]! - units * this.#interval[i]!);
        continue;
      }
      this.#tat[i] = now + buckets[i]!.resetMs;
      this.#remaining[i] = buckets[i]!.remaining;
      this.#usedSince[i] = 0;
      this.#exact[i] = Math.max(now, this.#tat[i]! - this.pool[i]! * this.#interval[i]!);
    }
    this.#anchored = Math.max(this.#anchored, seq);
  }

  /** What the bucket had left at the last answer, as headers show it now. */
  remaining(i: number): number {
    return this.#remaining[i]! - this.#usedSince[i]!;
  }

  /**
   * Units to charge so that the bucket, once the pool is refunded, holds no less than `exact`: 0 unless
   * the bucket would have been full at some point of the segment.
   */
  #correction(i: number, now: number): number {
    const interval = this.#interval[i]!;
    const refunded = Math.max(now, Math.max(now, this.#tat[i]!) - this.pool[i]! * interval);
    return Math.max(0, (Math.max(now, this.#exact[i]!) - refunded) / interval);
  }

  /** The adjustments that end the lease: the pool back, less any correction still owed. */
  release(now: number): { dimension: Dimension; limit: number; delta: number }[] {
    const { debt } = this.send(now);
    const adjustments = [];
    for (let i = 0; i < this.dims.length; i++) {
      const delta = debt[i]! - this.pool[i]!;
      this.pool[i] = 0;
      if (delta !== 0) adjustments.push({ ...this.dims[i]!, delta });
    }
    return adjustments;
  }
}
