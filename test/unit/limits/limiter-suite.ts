/**
 * The behaviour every Limiter must show, run against RedisLimiter (real redis-server, real time) and
 * MemoryLimiter (injected clock). Limits are chosen so the few ms a Redis call takes cannot refill a
 * unit (intervals of 600 ms and more), except in the refill test, which only asserts what waiting allows.
 */
import type { Test } from 'tap';
import type { Limiter, LimitRule } from '../../../src/limits/limiter.js';

export interface Harness {
  limiter: Limiter;
  /** Lets `ms` pass: a real sleep for Redis, a clock step for memory. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** resetMs is whole milliseconds of a clock read in microseconds. */
const ROUNDING_MS = 1;

export function limiterSuite(t: Test, make: () => Promise<Harness>): void {
  let subjects = 0;
  const scenario = (name: string, fn: (h: Harness, subject: string, t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      const harness = await make();
      t.teardown(() => harness.close());
      await fn(harness, `key:k${++subjects}:gpt-test`, t);
    });

  for (const dimension of ['rpm', 'rpd'] as const) {
    scenario(`${dimension} trips at exactly its limit`, async ({ limiter }, subject, t) => {
      const rules: LimitRule[] = [{ dimension, limit: 3, cost: 1 }];
      for (let i = 1; i <= 3; i++) t.ok((await limiter.admit(subject, rules)).allowed, `request ${i} of 3 is admitted`);
      const denied = await limiter.admit(subject, rules);
      t.notOk(denied.allowed, 'request 4 is denied');
      t.match(
        denied.denial,
        { dimension, limit: 3, used: 3, requested: 1, tooLarge: false },
        'denial names the bucket and its use',
      );
      t.ok(denied.denial!.retryAfterMs > 0, 'denial says when to retry');
    });
  }

  for (const dimension of ['tpm', 'tpd'] as const) {
    scenario(`${dimension} trips at exactly its limit`, async ({ limiter }, subject, t) => {
      const admit = (cost: number) => limiter.admit(subject, [{ dimension, limit: 100, cost }]);
      t.ok((await admit(40)).allowed, '40 of 100 tokens fit');
      t.ok((await admit(40)).allowed, '80 of 100 tokens fit');
      t.match(
        (await admit(40)).denial,
        { dimension, limit: 100, used: 80, requested: 40 },
        '120 of 100 tokens are denied',
      );
      t.ok((await admit(20)).allowed, 'exactly 100 of 100 tokens fit');
      t.match((await admit(1)).denial, { dimension, used: 100, requested: 1 }, 'one token more is denied');
    });
  }

  scenario('a denial on one dimension consumes nothing from the others', async ({ limiter }, subject, t) => {
    const rules = (tokens: number): LimitRule[] => [
      { dimension: 'rpm', limit: 10, cost: 1 },
      { dimension: 'tpm', limit: 100, cost: tokens },
    ];
    t.ok((await limiter.admit(subject, rules(80))).allowed, 'first request fits both buckets');
    const denied = await limiter.admit(subject, rules(80));
    t.equal(denied.denial?.dimension, 'tpm', 'second request is denied on tpm');
    t.match(
      denied.buckets,
      [
        { dimension: 'rpm', remaining: 9 },
        { dimension: 'tpm', remaining: 20 },
      ],
      'denied request left both buckets as they were',
    );
    const next = await limiter.admit(subject, rules(20));
    t.match(
      next.buckets,
      [
        { dimension: 'rpm', remaining: 8 },
        { dimension: 'tpm', remaining: 0 },
      ],
      'rpm was charged once per admitted request only',
    );
  });

  scenario('buckets refill continuously', async ({ limiter, elapse }, subject, t) => {
    // one request per 100 ms
    const admit = (cost: number) => limiter.admit(subject, [{ dimension: 'rpm', limit: 600, cost }]);
    t.ok((await admit(600)).allowed, 'the whole bucket is spent at once');
    const denied = await admit(1);
    t.notOk(denied.allowed, 'an empty bucket denies');
    t.ok(
      denied.denial!.retryAfterMs > 0 && denied.denial!.retryAfterMs <= 100,
      `retry after one interval (${denied.denial!.retryAfterMs} ms)`,
    );
    await elapse(denied.denial!.retryAfterMs);
    t.ok((await admit(1)).allowed, 'admitted after waiting retryAfterMs');
    await elapse(250);
    t.ok((await admit(2)).allowed, 'two more refilled within 250 ms');
  });

  scenario('a cost above the limit is too large and consumes nothing', async ({ limiter }, subject, t) => {
    const rules: LimitRule[] = [{ dimension: 'rpm', limit: 1, cost: 1 }, { dimension: 'tpm', limit: 100, cost: 101 }];
    const denied = await limiter.admit(subject, rules);
    t.match(
      denied.denial,
      { dimension: 'tpm', limit: 100, requested: 101, tooLarge: true, retryAfterMs: 0 },
      'denied as too large',
    );
    t.ok(
      (
        await limiter.admit(subject, [
          { dimension: 'rpm', limit: 1, cost: 1 },
          { dimension: 'tpm', limit: 100, cost: 100 },
        ])
      ).allowed,
      'nothing was consumed by the too-large request',
    );
    const both = await limiter.admit(subject, rules);
    t.equal(both.denial?.tooLarge, true, 'too large is reported before a bucket that only needs time');
  });

  scenario('adjust refunds and charges token buckets', async ({ limiter }, subject, t) => {
    const admit = (cost: number) => limiter.admit(subject, [{ dimension: 'tpm', limit: 100, cost }]);
    t.ok((await admit(100)).allowed, 'reservation of the whole bucket');
    await limiter.adjust(subject, [{ dimension: 'tpm', limit: 100, delta: -60 }]);
    t.ok((await admit(60)).allowed, 'refunded tokens can be spent again');
    t.notOk((await admit(1)).allowed, 'but not more than refunded');

    const fresh = `${subject}:fresh`;
    await limiter.adjust(fresh, [{ dimension: 'tpm', limit: 100, delta: -500 }]);
    t.equal(
      (await limiter.admit(fresh, [{ dimension: 'tpm', limit: 100, cost: 0 }])).buckets[0]?.remaining,
      100,
      'a refund never fills beyond the limit',
    );
    await limiter.adjust(fresh, [{ dimension: 'tpm', limit: 100, delta: 150 }]);
    const owed = await limiter.admit(fresh, [{ dimension: 'tpm', limit: 100, cost: 1 }]);
    t.match(owed.denial, { used: 100, requested: 1 }, 'a charge beyond the limit leaves the bucket owing');
    t.ok(owed.denial!.retryAfterMs > 30_000, `owed tokens delay the next request (${owed.denial!.retryAfterMs} ms)`);
  });

  scenario(
    'a carried settlement is applied before the check, and kept when denied',
    async ({ limiter }, subject, t) => {
      const tpm = (cost: number, carry?: number) =>
        limiter.admit(subject, [
          { dimension: 'rpm', limit: 100, cost: 1 },
          { dimension: 'tpm', limit: 100, cost, carry },
        ]);
      t.ok((await tpm(100)).allowed, 'reservation of the whole token bucket');
      const refunded = await tpm(70, -70);
      t.ok(refunded.allowed, 'the carried refund makes room for this very request');
      t.equal(refunded.buckets[1]?.remaining, 0, 'refund and cost both applied');
      const denied = await tpm(50, -30);
      t.notOk(denied.allowed, '30 refunded tokens do not fit a 50-token request');
      t.equal(denied.buckets[0]?.remaining, 98, 'the denied request took no request unit');
      t.ok((await tpm(30)).allowed, 'but the refund carried by the denied request stuck');
      const charged = await tpm(0, 20);
      t.match(charged.buckets[1], { remaining: 0 }, 'a carried charge overdraws like adjust');
    },
  );

  scenario('remaining and reset follow the bucket', async ({ limiter }, subject, t) => {
    const started = performance.now();
    const first = await limiter.admit(subject, [
      { dimension: 'rpm', limit: 10, cost: 1 },
      { dimension: 'tpd', limit: 1_000, cost: 250 },
    ]);
    t.match(
      first.buckets,
      [
        { dimension: 'rpm', limit: 10, remaining: 9 },
        { dimension: 'tpd', limit: 1_000, remaining: 750 },
      ],
      'remaining after one request',
    );
    t.ok(
      Math.abs(first.buckets[0]!.resetMs - 6_000) <= ROUNDING_MS,
      `rpm full again in one interval (${first.buckets[0]!.resetMs} ms)`,
    );
    t.ok(
      Math.abs(first.buckets[1]!.resetMs - 21_600_000) <= ROUNDING_MS,
      `tpd full again in a quarter day (${first.buckets[1]!.resetMs} ms)`,
    );
    const second = await limiter.admit(subject, [{ dimension: 'rpm', limit: 10, cost: 1 }]);
    // Two intervals from the first call, less the time since then (real for Redis, none for memory).
    const since = performance.now() - started;
    t.equal(second.buckets[0]?.remaining, 8, 'remaining after two requests');
    t.ok(
      second.buckets[0]!.resetMs <= 12_000 + ROUNDING_MS &&
        second.buckets[0]!.resetMs >= 12_000 - since - ROUNDING_MS,
      `reset grows with use (${second.buckets[0]!.resetMs} ms)`,
    );
  });

  scenario('subjects do not share buckets', async ({ limiter }, subject, t) => {
    const rules: LimitRule[] = [{ dimension: 'rpm', limit: 1, cost: 1 }];
    t.ok((await limiter.admit(subject, rules)).allowed, 'first subject admitted');
    t.ok((await limiter.admit(`${subject}-other`, rules)).allowed, 'second subject has its own bucket');
    t.notOk((await limiter.admit(subject, rules)).allowed, 'first subject is still limited');
  });

  scenario('bad rules are rejected, not stored', async ({ limiter }, subject, t) => {
    await t.rejects(limiter.admit(subject, [{ dimension: 'rpm', limit: 0, cost: 1 }]), RangeError, 'a zero limit');
    await t.rejects(
      limiter.admit(subject, [
        { dimension: 'tpm', limit: 10, cost: 1 },
        { dimension: 'tpm', limit: 20, cost: 1 },
      ]),
      RangeError,
      'two rules for one dimension',
    );
    await t.rejects(
      limiter.adjust(subject, [{ dimension: 'tpm', limit: 10, delta: Number.NaN }]),
      RangeError,
      'a NaN delta',
    );
  });
}
