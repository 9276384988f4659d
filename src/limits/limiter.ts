/**
 * The limiter contract shared by the Redis, in-memory and failover implementations.
 * A subject (`key:<keyId>:<modelAlias>`, `provider:<name>`) owns one bucket per dimension; requests
 * and tokens are separate dimensions of the same subject so one call can check and charge all of them.
 */

import type { Denial, Dimension } from '../openai/rate-limits.js';

export type { Denial, Dimension };

/** At most one rule per dimension in a call. The period follows the dimension: rpm/tpm 60 s, rpd/tpd 24 h. */
export interface LimitRule {
  dimension: Dimension;
  /** Units per period, > 0. */
  limit: number;
  /** Units this request takes, >= 0 (1 for requests, the estimated tokens for tokens). */
  cost: number;
  /**
   * Units charged (> 0) or refunded (< 0) for earlier requests of the subject, applied before this
   * request is checked and kept whether or not it is admitted: settlements riding along with the next
   * admission instead of costing a round trip of their own.
   */
  carry?: number;
}

export interface BucketState {
  dimension: Dimension;
  limit: number;
  remaining: number;
  /** ms until the bucket is full again. */
  resetMs: number;
}

export interface Admission {
  allowed: boolean;
  /** One per rule, in rule order: after consumption when allowed, untouched when denied. */
  buckets: BucketState[];
  denial?: Denial;
}

export interface Limiter {
  /**
   * Atomically: admit only if every rule's bucket has room for its cost, then consume all of them. One
   * Redis round trip.
   */
  admit(subject: string, rules: LimitRule[]): Promise<Admission>;
  /** Charge (delta > 0) or refund (delta < 0) token buckets after the real usage is known; never denies. */
  adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void>;
  close(): Promise<void>;
}
