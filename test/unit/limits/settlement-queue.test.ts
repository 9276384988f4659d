// Settlements of many subjects: one script call, applied exactly once, and never dropped unreported.
import { once } from 'node:events';
import t from 'tap';
import { FailoverLimiter } from '../../../src/limits/failover-limiter.js';
import type { LimitRule, Limiter } from '../../../src/limits/limiter.js';
import { MemoryLimiter } from '../../../src/limits/memory-limiter.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { RedisLimiter } from '../../../src/limits/redis-limiter.js';
import { SettlementQueue } from '../../../src/limits/settlement-queue.js';
import { startRedis } from '../../helpers/redis.js';

const server = await startRedis();
t.teardown(() => server.stop());
let prefixes = 0;

async function connectRedis() {
  const redis = createLimiterRedis(server.url, 1_000);
  redis.on('error', () => {});
  await once(redis, 'ready');
  t.teardown(() => redis.quit());
  return redis;
}

const observer = await connectRedis();

async function scriptCalls(): Promise<number> {
  const stats = await observer.info('commandstats');
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, [, n]) => sum + Number(n), 0);
}

// Day windows: an interval of 8.64 s per token, so nothing refills while the test runs.
const TPD = 10_000;
const reserve: LimitRule[] = [{ dimension: 'tpd', limit: TPD, cost: 1_000 }];
const subjects = Array.from({ length: 40 }, (_, i) => `key:settle${i}:gpt`);
/** Each subject gets two settlements, summed by the queue: a refund for some, a charge for others. */
const deltas = (i: number) => [-(i * 10), i % 3 === 0 ? 250 : -5];

async function remaining(limiter: Limiter, subject: string): Promise<number> {
  const { buckets } = await limiter.admit(subject, [{ dimension: 'tpd', limit: TPD, cost: 0 }]);
  return buckets[0]!.remaining;
}

async function reserveAndQueue(limiter: Limiter, queue: SettlementQueue): Promise<void> {
  await Promise.all(subjects.map((subject) => limiter.admit(subject, reserve)));
  subjects.forEach((subject, i) => {
    for (const delta of deltas(i)) queue.add(subject, [{ dimension: 'tpd', limit: TPD, delta }]);
  });
}

t.test('settlements of 40 subjects go out as one script call and land exactly once', async (t) => {
  const limiter = new RedisLimiter(await connectRedis(), `sq${process.pid}:${++prefixes}:`);
  const errors: unknown[] = [];
  const queue = new SettlementQueue(limiter, (err) => errors.push(err));
  await reserveAndQueue(limiter, queue);
  const before = await scriptCalls();
  await queue.flush();
  t.equal((await scriptCalls()) - before, 1, 'one call for every subject');
  const expected = subjects.map((_, i) => TPD - 1_000 - deltas(i).reduce((a, b) => a + b, 0));
  const after = await Promise.all(subjects.map((subject) => remaining(limiter, subject)));
  t.same(after, expected.map((n) => Math.min(TPD, n)), 'every bucket moved by its summed settlements');
  await queue.flush();
  const again = await Promise.all(subjects.map((subject) => remaining(limiter, subject)));
  t.same(again, after, 'a second flush applies nothing');
  t.same(errors, [], 'no error');
});

t.test('a failed settlement call is reported per subject and applied nowhere twice', async (t) => {
  const redis = await connectRedis();
  const limiter = new RedisLimiter(redis, `sq${process.pid}:${++prefixes}:`);
  const failures: unknown[] = [];
  const onFailure = (err: unknown) => failures.push(err);
  const closed = new FailoverLimiter(limiter, { failMode: 'closed', timeoutMs: 0, onFailure });
  const errors: unknown[] = [];
  const queue = new SettlementQueue(closed, (err) => errors.push(err));
  await reserveAndQueue(closed, queue);
  const send = redis.tollgateAdmit;
  redis.tollgateAdmit = (async () => {
    throw new Error('connection lost');
  }) as unknown as typeof redis.tollgateAdmit;
  await queue.flush();
  redis.tollgateAdmit = send;
  t.equal(errors.length, subjects.length, 'every subject whose settlement failed is reported (fail-closed)');
  t.equal(failures.length, subjects.length, 'and counted as a Redis failure');
  t.same(
    await Promise.all(subjects.map((subject) => remaining(limiter, subject))),
    subjects.map(() => TPD - 1_000),
    'Redis kept the reservations, untouched',
  );
  await queue.flush();
  t.same(
    await Promise.all(subjects.map((subject) => remaining(limiter, subject))),
    subjects.map(() => TPD - 1_000),
    'nothing is resent later: a failed call is never applied twice',
  );
});

t.test('fail-open: a failed settlement call is applied to the mirror once', async (t) => {
  const redis = await connectRedis();
  const mirror = new MemoryLimiter();
  const open = new FailoverLimiter(new RedisLimiter(redis, `sq${process.pid}:${++prefixes}:`), {
    failMode: 'open', timeoutMs: 0, fallback: mirror,
  });
  t.teardown(() => open.close());
  const errors: unknown[] = [];
  const queue = new SettlementQueue(open, (err) => errors.push(err));
  await reserveAndQueue(open, queue);
  redis.tollgateAdmit = (async () => {
    throw new Error('connection lost');
  }) as unknown as typeof redis.tollgateAdmit;
  await queue.flush();
  t.same(errors, [], 'the fallback took them: nothing to report');
  t.same(
    await Promise.all(subjects.map((subject) => remaining(mirror, subject))),
    subjects.map((_, i) => Math.min(TPD, TPD - 1_000 - deltas(i).reduce((a, b) => a + b, 0))),
    'the mirror holds each subject moved once by its settlements',
  );
});
