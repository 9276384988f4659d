import { once } from 'node:events';
import t, { type Test } from 'tap';
import { FailoverLimiter, LimiterUnavailableError } from '../../../src/limits/failover-limiter.js';
import type { Admission, Limiter, LimitRule } from '../../../src/limits/limiter.js';
import { MemoryLimiter } from '../../../src/limits/memory-limiter.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { RedisLimiter } from '../../../src/limits/redis-limiter.js';
import { startRedis } from '../../helpers/redis.js';

const RULES: LimitRule[] = [{ dimension: 'rpm', limit: 2, cost: 1 }];
/**
 * "Promptly", without a clock: a call that waited on the dead Redis would end by the limiter's own
 * timeout (1 s by default), so the failure it reports says which it was. A client that fails the
 * command at once reports its own error instead.
 */
const byTimeout = (err: unknown) => err instanceof Error && /did not answer within/.test(err.message);

// Each test kills its own server, so none shares one.
async function setup(t: Test, failMode: 'open' | 'closed') {
  const server = await startRedis({ spawn: true });
  const redis = createLimiterRedis(server.url, 200);
  redis.on('error', () => {}); // reconnect failures while the server is down are expected
  await once(redis, 'ready');
  const notices: { err: unknown; failures: number }[] = [];
  const failures: unknown[] = [];
  const limiter = new FailoverLimiter(new RedisLimiter(redis, 'fo:'), {
    failMode,
    onFailure: (err) => failures.push(err),
    onFallback: (err, failures) => notices.push({ err, failures }),
  });
  t.teardown(async () => {
    await limiter.close();
    redis.disconnect();
    await server.stop();
  });
  return { server, redis, limiter, notices, failures };
}

async function settled<T>(work: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await work };
  } catch (error) {
    return { error };
  }
}

t.test('fail open: a dead Redis is answered from memory, and reported sparingly', async (t) => {
  const { server, limiter, notices, failures } = await setup(t, 'open');
  t.ok((await limiter.admit('key:a:gpt', RULES)).allowed, 'Redis answers while it is up');
  await server.kill();
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await settled(limiter.admit('key:a:gpt', RULES)));
  t.ok(
    failures.length === 3 && !failures.some(byTimeout),
    'no call waits on the dead Redis: the client refused each ' +
      `(${failures.map((err) => (err as Error).message).join('; ')})`,
  );
  t.same(
    results.map((r) => r.value?.allowed),
    [true, false, false],
    'memory goes on from what Redis last said: 1 of 2 left',
  );
  for (let i = 0; i < 20; i++) await limiter.admit(`key:flood${i}:gpt`, RULES);
  t.equal(notices.length, 1, 'onFallback is called once for 23 fallbacks within the notice interval');
  t.equal(notices[0]?.failures, 1, 'the first notice stands for one failure');
  t.ok(notices[0]?.err instanceof Error, 'the notice carries the Redis error');
  t.equal(limiter.fallbacks, 23, 'every fallback is counted');
  t.equal(failures.length, 23, 'and onFailure is told of every one, unthrottled');
  await t.resolves(limiter.adjust('key:a:gpt', [{ dimension: 'tpm', limit: 100, delta: 5 }]), 'adjust falls back too');
  t.equal(failures.length, 24, 'a failed adjust is counted too');
});

t.test('fail closed: a dead Redis rejects promptly with LimiterUnavailableError', async (t) => {
  const { server, limiter, notices, failures } = await setup(t, 'closed');
  await server.kill();
  const admit = await settled(limiter.admit('key:b:gpt', RULES));
  t.ok(admit.error instanceof LimiterUnavailableError, 'admit rejects with LimiterUnavailableError');
  const cause = (admit.error as Error).cause;
  t.ok(
    !byTimeout(cause),
    `it does not hang: the client refused the command (${(cause as Error | undefined)?.message})`,
  );
  t.ok(cause instanceof Error, 'the Redis error is kept as the cause');
  const adjust = await settled(limiter.adjust('key:b:gpt', [{ dimension: 'tpm', limit: 100, delta: -5 }]));
  t.ok(
    adjust.error instanceof LimiterUnavailableError && !byTimeout((adjust.error as Error).cause),
    'adjust rejects promptly too',
  );
  t.equal(notices.length, 0, 'closed mode does not fall back');
  t.equal(failures.length, 2, 'but every refused call is counted as a failure');
  await t.rejects(
    limiter.admit('key:b:gpt', [{ dimension: 'rpm', limit: -1, cost: 1 }]),
    RangeError,
    'a bad rule stays a RangeError',
  );
});

t.test('after Redis comes back, limiting is shared through Redis again', async (t) => {
  const { server, redis, limiter } = await setup(t, 'open');
  await server.kill();
  t.ok((await limiter.admit('key:c:gpt', RULES)).allowed, 'served from memory while Redis is down');
  const fallbacks = limiter.fallbacks;
  await server.restart();
  await once(redis, 'ready'); // ioredis reconnects on its own (capped backoff)
  t.ok((await limiter.admit('key:c:gpt', RULES)).allowed, 'admitted after the restart');
  t.equal(limiter.fallbacks, fallbacks, 'without falling back');
  t.equal(
    await redis.exists('fo:rl:{key:c:gpt}:rpm'),
    1,
    'the bucket now lives in Redis (scripts reloaded on the empty server)',
  );
});

t.test('a primary that never answers is cut off by the timeout', async (t) => {
  // The primary never settles: any answer at all comes from the timeout, which the failure then names.
  const stuck: Limiter = {
    admit: () => new Promise(() => {}),
    adjust: () => new Promise(() => {}),
    close: async () => {},
  };
  const failures: unknown[] = [];
  const open = new FailoverLimiter(stuck, { failMode: 'open', timeoutMs: 100, onFailure: (err) => failures.push(err) });
  const closed = new FailoverLimiter(stuck, { failMode: 'closed', timeoutMs: 100 });
  t.teardown(() => Promise.all([open.close(), closed.close()]));
  const served = await settled(open.admit('key:d:gpt', RULES));
  t.ok(
    served.value?.allowed && failures.length === 1 && byTimeout(failures[0]),
    'open mode answers from memory after the timeout',
  );
  const refused = await settled(closed.admit('key:d:gpt', RULES));
  t.ok(
    refused.error instanceof LimiterUnavailableError && byTimeout((refused.error as Error).cause),
    'closed mode refuses after the timeout',
  );
});

/**
 * A fleet on a test clock: `store`, a MemoryLimiter standing for Redis, behind a switch that makes every
 * call fail (a stall past the command timeout, or a dead server); `instances` FailoverLimiters share it,
 * each seeing a fleet of that size.
 */
function clockedFleet(t: Test, instances: number) {
  const clock = { now: 5_000_000 };
  const now = () => clock.now;
  const store = new MemoryLimiter({ now });
  const state = { down: false };
  const fail = () => Promise.reject(new Error('redis stalled'));
  const primary: Limiter = {
    admit: (subject, rules) => (state.down ? fail() : store.admit(subject, rules)),
    adjust: (subject, adjustments) => (state.down ? fail() : store.adjust(subject, adjustments)),
    close: async () => {},
  };
  const members = Array.from({ length: instances }, () => {
    const fallback = new MemoryLimiter({ now });
    return new FailoverLimiter(primary, { failMode: 'open', timeoutMs: 0, instances: () => instances, fallback });
  });
  t.teardown(() => Promise.all([store.close(), ...members.map((m) => m.close())]));
  return { clock, store, state, members };
}

const RPD_100: LimitRule[] = [{ dimension: 'rpd', limit: 100, cost: 1 }];
/** One rpd unit every 864 s; a share of a fleet of two refills one unit every 1,728 s. */
const RPD_100_INTERVAL_MS = 864_000;

/** Admits on `limiter` until the first denial; returns how many passed and that denial. */
async function drain(
  limiter: Limiter,
  subject: string,
  rules: LimitRule[],
): Promise<{ passed: number; denied: Admission }> {
  const max = 1_000;
  for (let passed = 0; passed < max; passed++) {
    const admission = await limiter.admit(subject, rules);
    if (!admission.allowed) return { passed, denied: admission };
  }
  throw new Error(`no denial within ${max}`);
}

t.test(
  'a stall after 95 of rpd 100 lets the two instances admit only the 5 left, not a full bucket each',
  async (t) => {
    const { state, members } = clockedFleet(t, 2);
    let before = 0;
    for (let i = 0; i < 95; i++) if ((await members[i % 2]!.admit('key:s:gpt', RPD_100)).allowed) before += 1;
    t.equal(before, 95, '95 admitted through Redis, alternating instances');
    state.down = true;
    const during = await Promise.all(members.map((m) => drain(m, 'key:s:gpt', RPD_100)));
    // Instance 0 last saw 5 left (share 2.5), instance 1 saw 6 before instance 0's last request (share 3).
    t.same(
      during.map((d) => d.passed),
      [2, 3],
      'each admits its share of the remaining it last saw',
    );
    const total = 95 + during[0]!.passed + during[1]!.passed;
    t.equal(total, 100, 'the fleet admits 100 of rpd 100 in all (was up to 95 + 100 + 100)');
    const denial = during[0]!.denied;
    t.match(
      denial.buckets[0],
      { dimension: 'rpd', limit: 100, remaining: 0 },
      'the denial reports the configured limit',
    );
    const expected = { dimension: 'rpd', limit: 100, used: 100, tooLarge: false };
    t.match(denial.denial, expected, 'as a wait, not a too-large request');
  },
);

t.test(
  'a subject never seen in Redis starts from its share of a full bucket, refilling at the rate / instances',
  async (t) => {
    const { clock, state, members } = clockedFleet(t, 2);
    state.down = true;
    const [a, b] = members as [FailoverLimiter, FailoverLimiter];
    t.equal((await drain(a, 'key:new:gpt', RPD_100)).passed, 50, 'instance 0 admits half of rpd 100');
    t.equal((await drain(b, 'key:new:gpt', RPD_100)).passed, 50, 'so does instance 1: 100 in all');
    clock.now += 2 * RPD_100_INTERVAL_MS - 1_000;
    t.notOk((await a.admit('key:new:gpt', RPD_100)).allowed, 'a unit of refill per instance takes two intervals');
    clock.now += 1_000;
    t.ok((await a.admit('key:new:gpt', RPD_100)).allowed, 'instance 0 gets one unit after two intervals');
    t.ok(
      (await b.admit('key:new:gpt', RPD_100)).allowed,
      'instance 1 too: two per two intervals, the rate of rpd 100',
    );
    t.notOk((await b.admit('key:new:gpt', RPD_100)).allowed, 'and no more');
  },
);

t.test('a stall of any length admits no more than the remaining plus the refill of its length', async (t) => {
  const { clock, state, members } = clockedFleet(t, 3);
  const rules: LimitRule[] = [{ dimension: 'rpm', limit: 30, cost: 1 }];
  for (let i = 0; i < 20; i++) await members[i % 3]!.admit('key:long:gpt', rules);
  state.down = true;
  let admitted = 0;
  const stallMs = 10 * 60_000;
  for (let elapsed = 0; elapsed <= stallMs; elapsed += 500, clock.now += 500) {
    for (const member of members) if ((await member.admit('key:long:gpt', rules)).allowed) admitted += 1;
  }
  const bound = 10 + (stallMs / 60_000) * 30;
  t.ok(admitted <= bound, `${admitted} admitted in a 10-minute stall, bound ${bound} (10 left + 10 minutes of rpm 30)`);
  t.ok(admitted >= bound - 3, `and the shares are not lost either (${admitted} >= ${bound - 3})`);
});

t.test('once Redis answers again its state replaces what was admitted locally', async (t) => {
  const { state, store, members } = clockedFleet(t, 1);
  const [limiter] = members as [FailoverLimiter];
  for (let i = 0; i < 90; i++) await limiter.admit('key:back:gpt', RPD_100);
  state.down = true;
  t.equal((await drain(limiter, 'key:back:gpt', RPD_100)).passed, 10, 'alone in the fleet: the 10 left, from memory');
  state.down = false;
  const back = await limiter.admit('key:back:gpt', RPD_100);
  t.match(back.buckets[0], { remaining: 9 }, 'Redis did not see them (not written back): it answers from its 10 left');
  await store.admit('key:back:gpt', [{ dimension: 'rpd', limit: 100, cost: 5 }]); // another instance takes 5
  await limiter.admit('key:back:gpt', RPD_100);
  state.down = true;
  const next = await drain(limiter, 'key:back:gpt', RPD_100);
  t.equal(next.passed, 3, 'the next stall starts from what Redis said last: 3 left');
});

t.test('a settlement Redis applied is mirrored, so a stall right after it starts from it', async (t) => {
  const { state, members } = clockedFleet(t, 1);
  const [limiter] = members as [FailoverLimiter];
  await limiter.admit('key:tok:gpt', [{ dimension: 'tpm', limit: 1_000, cost: 100 }]);
  await limiter.adjust('key:tok:gpt', [{ dimension: 'tpm', limit: 1_000, delta: 400 }]);
  state.down = true;
  const tokens = (cost: number): LimitRule[] => [{ dimension: 'tpm', limit: 1_000, cost }];
  t.notOk((await limiter.admit('key:tok:gpt', tokens(501))).allowed, '501 tokens do not fit the 500 left');
  t.ok((await limiter.admit('key:tok:gpt', tokens(500))).allowed, '500 do');
});

t.test('a cost that fits the limit but not the instance share is a wait, not a too-large request', async (t) => {
  const { state, members } = clockedFleet(t, 3);
  state.down = true;
  const share = await members[0]!.admit('key:big:gpt', [{ dimension: 'tpm', limit: 1_000, cost: 500 }]);
  const wait = { dimension: 'tpm', limit: 1_000, tooLarge: false, retryAfterMs: 1_000 };
  t.match(share.denial, wait, '500 of tpm 1000 on a third of it: retry shortly');
  const never = await members[0]!.admit('key:big:gpt', [{ dimension: 'tpm', limit: 1_000, cost: 1_001 }]);
  t.match(never.denial, { limit: 1_000, tooLarge: true }, 'more than the whole limit stays too large');
});
