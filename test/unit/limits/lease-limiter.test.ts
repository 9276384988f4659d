// LeasingLimiter over a MemoryLimiter on an injected clock: a busy subject is served from leases
// without a call per request, never more than an exact limiter admits, exactly at the limit, and
// the shared bucket ends where per-request calls would have left it.
import t from 'tap';
import { LeasingLimiter } from '../../../src/limits/lease-limiter.js';
import type { Admission, LimitRule, Limiter } from '../../../src/limits/limiter.js';
import { MemoryLimiter } from '../../../src/limits/memory-limiter.js';

/** Counts the admit calls that reach the shared limiter. */
function counting(inner: Limiter): Limiter & { admits: number } {
  const counter = {
    admits: 0,
    admit: (subject: string, rules: LimitRule[]) => {
      counter.admits += 1;
      return inner.admit(subject, rules);
    },
    adjust: inner.adjust.bind(inner),
    close: async () => {},
  };
  return counter;
}

function world() {
  let now = 1_000_000;
  const clock = { now: () => now, step: (ms: number) => void (now += ms) };
  const shared = new MemoryLimiter({ now: clock.now });
  const exact = new MemoryLimiter({ now: clock.now });
  const instance = () => {
    const inner = counting(shared);
    return { inner, limiter: new LeasingLimiter(inner, { now: clock.now }) };
  };
  return { clock, shared, exact, instance, close: () => Promise.all([shared.close(), exact.close()]) };
}

const state = async (limiter: Limiter, subject: string, rules: LimitRule[]) =>
  (await limiter.admit(subject, rules.map((r) => ({ ...r, cost: 0 })))).buckets.map(({ remaining, resetMs }) => ({
    remaining,
    resetMs,
  }));

t.test('a busy subject is served from leases: few calls, every admission, the same bucket after', async (t) => {
  const w = world();
  t.teardown(w.close);
  const { inner, limiter } = w.instance();
  const rules: LimitRule[] = [
    { dimension: 'rpm', limit: 1_000_000, cost: 1 },
    { dimension: 'tpm', limit: 100_000_000, cost: 50 },
  ];
  // Not full: GCRA is additive, so leasing must end exactly where per-request calls end.
  await w.shared.admit('s', rules.map((r) => ({ ...r, cost: r.limit / 2 })));
  await w.exact.admit('s', rules.map((r) => ({ ...r, cost: r.limit / 2 })));
  let admitted = 0;
  const disagreements: number[] = [];
  const overstated: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    const answer = await limiter.admit('s', rules);
    const reference = await w.exact.admit('s', rules);
    if (answer.allowed !== reference.allowed) disagreements.push(i);
    if (answer.buckets.some((bucket, d) => bucket.remaining > reference.buckets[d]!.remaining)) overstated.push(i);
    if (answer.allowed) admitted += 1;
    w.clock.step(0.5);
  }
  t.same(disagreements, [], 'the exact limiter decides every request the same way');
  t.same(overstated, [], "headers never show more than the exact limiter's remaining");
  t.equal(admitted, 2_000, 'every request admitted');
  t.ok(inner.admits < 100, `${inner.admits} calls reached the shared limiter for 2000 requests`);
  await limiter.close();
  t.same(await state(w.shared, 's', rules), await state(w.exact, 's', rules), 'after the lease ends: exact accounting');
});

t.test('on a full bucket the leased books are never fuller than exact ones', async (t) => {
  const w = world();
  t.teardown(w.close);
  const { limiter } = w.instance();
  const rules: LimitRule[] = [{ dimension: 'rpm', limit: 60_000, cost: 1 }]; // one unit refills per ms
  for (let i = 0; i < 1_000; i++) {
    await limiter.admit('s', rules);
    await w.exact.admit('s', rules);
    w.clock.step(i % 100 === 0 ? 50 : 0.5); // idle gaps: the exact bucket is full again now and then
  }
  await limiter.close();
  const [leased] = await state(w.shared, 's', rules);
  const [exact] = await state(w.exact, 's', rules);
  t.ok(leased!.remaining <= exact!.remaining, `remaining ${leased!.remaining} <= exact ${exact!.remaining}`);
  t.ok(leased!.resetMs >= exact!.resetMs - 1, `reset ${leased!.resetMs} ms >= exact ${exact!.resetMs} ms`);
});

t.test('two instances never admit more than the exact limiter, and exactly the limit at the end', async (t) => {
  const w = world();
  t.teardown(w.close);
  const a = w.instance();
  const b = w.instance();
  const rules: LimitRule[] = [{ dimension: 'rpd', limit: 500, cost: 1 }]; // no refill to speak of
  const answers: Admission[] = [];
  for (let i = 0; i < 800; i++) {
    answers.push(await (i % 2 ? a : b).limiter.admit('s', rules));
    w.clock.step(1);
  }
  await Promise.all([a.limiter.close(), b.limiter.close()]);
  const admitted = answers.filter((x) => x.allowed).length;
  t.equal(admitted, 500, 'exactly the limit between them');
  t.ok(a.inner.admits + b.inner.admits < 800, `${a.inner.admits + b.inner.admits} calls for 800 requests`);
  t.equal((await state(w.shared, 's', rules))[0]!.remaining, 0, 'the bucket is empty: no unit was lost');
  t.ok(answers.slice(-300).every((x) => !x.allowed), 'every request after the limit is denied');
});

t.test('near the limit every request is an exact call', async (t) => {
  const w = world();
  t.teardown(w.close);
  const { inner, limiter } = w.instance();
  const rules: LimitRule[] = [{ dimension: 'rpm', limit: 30, cost: 1 }];
  let admitted = 0;
  for (let i = 0; i < 100; i++) {
    if ((await limiter.admit('s', rules)).allowed) admitted += 1;
    w.clock.step(1);
  }
  t.equal(admitted, 30, 'exactly 30 of 100');
  t.equal(inner.admits, 100, 'one call per request: a slice of 30 never reaches 4 requests in a tenth');
  await limiter.close();
});

t.test('settlements carried by locally admitted requests reach the bucket', async (t) => {
  const w = world();
  t.teardown(w.close);
  const { limiter } = w.instance();
  const rules: LimitRule[] = [{ dimension: 'tpm', limit: 100_000_000, cost: 100 }];
  await w.shared.admit('s', [{ ...rules[0]!, cost: 50_000_000 }]);
  await w.exact.admit('s', [{ ...rules[0]!, cost: 50_000_000 }]);
  for (let i = 0; i < 1_000; i++) {
    const carried = i % 3 === 0 ? [{ ...rules[0]!, carry: -60 }] : i % 3 === 1 ? [{ ...rules[0]!, carry: 20 }] : rules;
    await limiter.admit('s', carried);
    await w.exact.admit('s', carried);
    w.clock.step(0.25);
  }
  await limiter.close();
  t.same(await state(w.shared, 's', rules), await state(w.exact, 's', rules), 'the same bucket as exact calls');
});
