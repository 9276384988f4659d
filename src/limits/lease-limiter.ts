/**
 * Takes the shared limiter's round trip off a busy subject's requests: the instance admits a slice of
 * the subject's buckets in Redis ahead of need (a lease, one ordinary admission of k units, atomic with
 * the same script) and admits requests from it locally while it lasts. Never over-admits: every unit
 * given out locally was consumed in Redis first, and unused units go back (lease.ts keeps the books,
 * including the refill a full bucket would have lost). (`limits.leasing`, on by default.)
 *
 * Under-admission is bounded and absent near the limit: a subject is leased only while this instance
 * sees several of its requests per lease period, a slice is at most the demand of one period and at
 * most LEASE_FRACTION of what Redis said was left, so close to the limit every request is an exact call
 * again, and a lease ends (refunded) LEASE_MS after its last renewal, or at once when Redis denies a
 * request of the subject. A request that does not fit the pool is one ordinary call, as before.
 *
 * Placement: inside FailoverLimiter, around the RedisLimiter. Leases are only ever taken from Redis
 * itself, never from the failover mirror (a refund to Redis of units the mirror lent would over-admit);
 * a pool held when Redis stops answering is used up (it was charged in Redis already) and the mirror
 * starts from the conservative buckets this layer reports, so failover-limiter.ts's bound holds with R
 * read as Redis' free units plus the pools. Outside AdmissionControl's settlement queue: settlements
 * riding on a locally admitted request are applied to the pool (lease.ts).
 */
import { assertRules } from './gcra.js';
import { Lease } from './lease.js';
import type { Admission, Dimension, LimitRule, Limiter } from './limiter.js';

/** How long a lease lives after its last renewal; unused units are back in Redis by then. */
export const LEASE_MS = 200;
/** A slice is at most this share of what Redis last said was left. */
export const LEASE_FRACTION = 1 / 10;
/** Requests per lease period (on this instance) before the subject is leased, and the smallest slice. */
export const MIN_LEASE = 4;
const SWEEP_INTERVAL_MS = 10_000;

export interface LeasingLimiterOptions {
  /** Monotonic ms; tests inject one. */
  now?: () => number;
  /** A refund at a lease's end that the limiter refused (the units are lost: under-admission only). */
  onError?: (err: unknown) => void;
}

/** A subject's demand on this instance and its lease, if any. */
interface Subject {
  lease: Lease | undefined;
  /** The lease call in flight: requests the pool cannot serve wait for it rather than call on their own. */
  pending: Promise<unknown> | undefined;
  timer: NodeJS.Timeout | undefined;
  windowStart: number;
  windowCount: number;
  /** Requests seen in the last complete window, scaled to one LEASE_MS. */
  perLease: number;
}

export class LeasingLimiter implements Limiter {
  readonly #inner: Limiter;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  readonly #subjects = new Map<string, Subject>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(inner: Limiter, options: LeasingLimiterOptions = {}) {
    this.#inner = inner;
    this.#now = options.now ?? (() => performance.now());
    this.#onError = options.onError ?? (() => {});
    // unref: the sweep must not keep the process alive.
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS).unref();
  }

  async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    assertRules(rules);
    if (rules.length === 0) return this.#inner.admit(subject, rules);
    const state = this.#subject(subject);
    const now = this.#now();
    let lease = state.lease;
    if (lease && !lease.matches(rules)) lease = this.#end(subject, state);
    if (lease?.fits(rules)) return this.#local(subject, state, lease, rules, now);
    if (lease && state.pending) {
      await state.pending.catch(() => undefined);
      if (state.lease === lease && lease.fits(rules)) return this.#local(subject, state, lease, rules, this.#now());
    }
    return this.#direct(subject, state, rules);
  }

  adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): Promise<void> {
    return this.#inner.adjust(subject, adjustments);
  }

  /** Gives every pool back (awaited), then closes the inner limiter. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#subjects].map(([subject, state]) => this.#refund(subject, state)));
    this.#subjects.clear();
    await this.#inner.close();
  }

  /** Forgets subjects without a lease that have not been busy for a sweep interval. */
  #sweep(): void {
    const now = this.#now();
    for (const [subject, state] of this.#subjects) {
      if (!state.lease && now - state.windowStart > SWEEP_INTERVAL_MS) this.#subjects.delete(subject);
    }
  }

  #subject(subject: string): Subject {
    let state = this.#subjects.get(subject);
    if (!state) {
      const windowStart = this.#now();
      state = { lease: undefined, pending: undefined, timer: undefined, windowStart, windowCount: 0, perLease: 0 };
      this.#subjects.set(subject, state);
    }
    state.windowCount += 1;
    const now = this.#now();
    const elapsed = now - state.windowStart;
    // A full window, or enough requests to tell a busy subject sooner (a burst in one ms counts as 1 ms).
    if (elapsed >= LEASE_MS || state.windowCount >= 2 * MIN_LEASE) {
      state.perLease = (state.windowCount * LEASE_MS) / Math.max(1, elapsed);
      state.windowStart = now;
      state.windowCount = 0;
    }
    return state;
  }

  #local(subject: string, state: Subject, lease: Lease, rules: LimitRule[], now: number): Admission {
    const admission = lease.take(rules, now);
    if (!state.pending && lease.pool.some((units, i) => units < lease.slice[i]! / 2)) {
      this.#lease(subject, state, lease, rules);
    }
    return admission;
  }

  /** One ordinary call; when the subject is busy and the bucket roomy, a lease goes in the same turn. */
  async #direct(subject: string, state: Subject, rules: LimitRule[]): Promise<Admission> {
    if (!state.lease && state.perLease < MIN_LEASE) return this.#inner.admit(subject, rules);
    const lease = state.lease ?? new Lease(rules);
    state.lease = lease;
    const { seq, debt } = lease.send(this.#now());
    const call = this.#inner.admit(subject, withDebt(rules, debt));
    if (!state.pending) this.#lease(subject, state, lease, rules);
    const admission = await call;
    if (state.lease !== lease) return admission;
    lease.answer(seq, admission.buckets, undefined, this.#now());
    if (!state.timer) this.#arm(subject, state);
    // Out of room (not merely too large): whatever this instance holds goes back to the others now.
    if (!admission.allowed && !admission.denial?.tooLarge) void this.#refund(subject, state);
    return admission;
  }

  /** Starts a lease call when the subject qualifies (see sliceFor); the call runs in the background. */
  #lease(subject: string, state: Subject, lease: Lease, rules: LimitRule[]): void {
    const slice = sliceFor(state.perLease, lease, rules);
    if (!slice) return;
    const { seq, debt } = lease.send(this.#now());
    const leaseRules = lease.dims.map((dim, i) => ({ ...dim, cost: slice[i]!, carry: debt[i]! }));
    const call = this.#inner.admit(subject, leaseRules).then((admission) => {
      if (state.lease !== lease) {
        // The lease ended while this call was out: whatever it took goes straight back.
        const back = admission.allowed ? lease.dims.map((dim, i) => ({ ...dim, delta: -slice[i]! })) : [];
        if (back.length > 0) this.#inner.adjust(subject, back).catch(this.#onError);
        return;
      }
      lease.answer(seq, admission.buckets, admission.allowed ? slice : undefined, this.#now());
      if (!admission.allowed) return void this.#refund(subject, state);
      lease.slice = slice;
      this.#arm(subject, state);
    });
    const pending: Promise<void> = call.finally(() => {
      if (state.pending === pending) state.pending = undefined;
    });
    state.pending = pending;
    // A failed lease call: Redis is failing; the pool (already charged) is kept until the lease ends.
    pending.catch(() => undefined);
  }

  /** (Re)starts the lease's life: it ends LEASE_MS after its last renewal. */
  #arm(subject: string, state: Subject): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => void this.#refund(subject, state), LEASE_MS).unref();
  }

  /** Ends the lease (the pool goes back) and forgets the subject; returns undefined for chaining. */
  #end(subject: string, state: Subject): undefined {
    void this.#refund(subject, state);
    return undefined;
  }

  async #refund(subject: string, state: Subject): Promise<void> {
    clearTimeout(state.timer);
    state.timer = undefined;
    const lease = state.lease;
    state.lease = undefined;
    if (this.#subjects.get(subject) === state && state.perLease < MIN_LEASE) this.#subjects.delete(subject);
    if (!lease) return;
    const adjustments = lease.release(this.#now());
    if (adjustments.length > 0) await this.#inner.adjust(subject, adjustments).catch(this.#onError);
  }
}

/**
 * Units per dimension for the next lease, or undefined when the subject should not be leased: fewer
 * than MIN_LEASE requests per lease period here, a slice (half a period's demand) below MIN_LEASE
 * requests, or a bucket without MIN_LEASE requests' worth in
 * LEASE_FRACTION of what it has left. Token dimensions lease n times this request's cost.
 */
function sliceFor(perLease: number, lease: Lease, rules: LimitRule[]): number[] | undefined {
  if (perLease < MIN_LEASE) return undefined;
  // Half a period's demand: the renewal (at half a slice left) comes well before the lease's end.
  let n = Math.ceil(perLease / 2);
  for (let i = 0; i < rules.length; i++) {
    const cost = rules[i]!.cost;
    if (cost > 0) n = Math.min(n, Math.floor((lease.remaining(i) * LEASE_FRACTION) / cost));
  }
  return n >= MIN_LEASE ? rules.map((rule) => n * rule.cost) : undefined;
}

function withDebt(rules: LimitRule[], debt: number[]): LimitRule[] {
  if (debt.every((d) => d === 0)) return rules;
  return rules.map((rule, i) => (debt[i] ? { ...rule, carry: (rule.carry ?? 0) + debt[i]! } : rule));
}
