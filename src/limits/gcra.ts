/**
 * GCRA, a continuously refilling token bucket stored as one number per bucket: its theoretical arrival
 * time (TAT), the instant at which the bucket is full again (https://brandur.org/rate-limiting).
 * Spending c units pushes the TAT c emission intervals (period / limit) ahead; a cost fits while the
 * TAT stays at most one period ahead of now. An absent TAT, or one in the past, is a full bucket.
 *
 * Pure functions: MemoryLimiter calls them, the Lua in redis-limiter.ts mirrors them step by step.
 */
import type { Admission, BucketState, Dimension, LimitRule } from './limiter.js';

export const PERIOD_MS: Readonly<Record<Dimension, number>> = {
  rpm: 60_000,
  tpm: 60_000,
  rpd: 86_400_000,
  tpd: 86_400_000,
};

/**
 * TATs are absolute milliseconds in doubles (one ulp is ~0.25 µs today), so adding an interval L times
 * can overshoot the period by a few ulps and deny the L-th unit. 10 µs of slack absorbs that; it is worth
 * less than one unit for any limit below 6M per minute.
 */
export const EPSILON_MS = 0.01;

/** Stored buckets expire this long after they would be full again (an absent bucket is a full one). */
export const EXPIRY_MARGIN_MS = 1_000;

export interface Verdict {
  /** Index of the rule that denies, -1 when admitted. */
  denied: number;
  tooLarge: boolean;
  retryAfterMs: number;
  /** Per rule, after consumption when admitted. */
  states: { remaining: number; resetMs: number }[];
}

export function intervalMs(dimension: Dimension, limit: number): number {
  return PERIOD_MS[dimension] / limit;
}

/** Both numbers allow EPSILON_MS, as admission does: float noise must not show as `6.001s` for a 6 s interval. */
export function bucketState(
  tat: number,
  now: number,
  dimension: Dimension,
  limit: number,
): { remaining: number; resetMs: number } {
  const remaining = Math.floor((PERIOD_MS[dimension] + EPSILON_MS - (tat - now)) / intervalMs(dimension, limit));
  return {
    remaining: Math.min(limit, Math.max(0, remaining)),
    resetMs: Math.max(0, Math.ceil(tat - now - EPSILON_MS)),
  };
}

/**
 * All or nothing over the rules: the denial reported is a too-large one first (waiting cannot help),
 * else the bucket that needs the longest wait. Carries are applied first, admitted or not. Returns the
 * TATs to store: every bucket when admitted, the carried ones when denied. Plain loops: this runs on
 * every request.
 */
export function evaluate(
  stored: (number | undefined)[],
  rules: LimitRule[],
  now: number,
): Verdict & { tats: number[] } {
  const tats: number[] = [];
  let denied = -1;
  let tooLarge = false;
  let wait = 0;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const tat = rule.carry
      ? adjustTat(stored[i], now, rule.dimension, rule.limit, rule.carry)
      : Math.max(stored[i] ?? now, now);
    tats.push(tat);
    if (rule.cost > rule.limit) {
      if (!tooLarge) [denied, tooLarge, wait] = [i, true, 0];
    } else if (!tooLarge) {
      const over = tat + rule.cost * intervalMs(rule.dimension, rule.limit) - now - PERIOD_MS[rule.dimension];
      if (over > EPSILON_MS && over > wait) [denied, wait] = [i, over];
    }
  }
  const states: Verdict['states'] = [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (denied < 0) tats[i] = tats[i]! + rule.cost * intervalMs(rule.dimension, rule.limit);
    states.push(bucketState(tats[i]!, now, rule.dimension, rule.limit));
  }
  return { denied, tooLarge, retryAfterMs: Math.ceil(wait), states, tats };
}

/** A charge pushes the TAT ahead (it may overdraw); a refund never moves it below now (never fuller than full). */
export function adjustTat(
  stored: number | undefined,
  now: number,
  dimension: Dimension,
  limit: number,
  delta: number,
): number {
  return Math.max(now, Math.max(stored ?? now, now) + delta * intervalMs(dimension, limit));
}

export function toAdmission(rules: LimitRule[], verdict: Verdict): Admission {
  const buckets: BucketState[] = [];
  for (let i = 0; i < rules.length; i++) {
    const { remaining, resetMs } = verdict.states[i]!;
    buckets.push({ dimension: rules[i]!.dimension, limit: rules[i]!.limit, remaining, resetMs });
  }
  const rule = rules[verdict.denied];
  if (rule === undefined) return { allowed: true, buckets };
  const remaining = verdict.states[verdict.denied]!.remaining;
  return {
    allowed: false,
    buckets,
    denial: {
      dimension: rule.dimension,
      limit: rule.limit,
      used: rule.limit - remaining,
      requested: rule.cost,
      retryAfterMs: verdict.retryAfterMs,
      tooLarge: verdict.tooLarge,
    },
  };
}

/** Rules come from configuration and the request: reject what would corrupt a bucket rather than store it. */
export function assertRules(
  rules: readonly { dimension: Dimension; limit: number; cost?: number; delta?: number; carry?: number }[],
): void {
  for (let i = 0; i < rules.length; i++) {
    const { dimension, limit, cost, delta, carry } = rules[i]!;
    if (!(limit > 0) || !Number.isFinite(limit)) {
      throw new RangeError(`limit for ${dimension} must be a positive number, got ${limit}`);
    }
    if (carry !== undefined && !Number.isFinite(carry)) {
      throw new RangeError(`bad carry for ${dimension}: ${carry}`);
    }
    const amount = cost ?? delta ?? 0;
    if (!Number.isFinite(amount) || (cost !== undefined && amount < 0)) {
      throw new RangeError(`bad amount for ${dimension}: ${amount}`);
    }
    for (let j = 0; j < i; j++) {
      if (rules[j]!.dimension === dimension) throw new RangeError(`more than one rule for ${dimension}`);
    }
  }
}
