// Two gateway instances on one real Redis with limits.leasing on: a busy key is admitted mostly from
// leases (few admission scripts), Redis ends charged exactly what was admitted once the leases are
// given back, and at the limit the two admit exactly the limit between them.
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { randomKey, type Gateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';
import { monitored, type SeenCommand } from '../../helpers/redis-monitor.js';
import { post, twoGatewaysOnRedis, type Answer } from '../../helpers/rate-limit-harness.js';

const redis = await startRedis();
const mock = await startMockUpstream();
const probe = new Redis(redis.url);
t.teardown(async () => {
  probe.disconnect();
  await mock.close();
  await redis.stop();
});

async function pair(t: Test, tier: Record<string, number>) {
  const key = randomKey('lease');
  const { prefix, instances } = await twoGatewaysOnRedis(redis.url, mock, (raw) => {
    raw.limits = { leasing: true };
    raw.tiers.leased = tier;
    raw.keys = [{ name: 'lease', key, tier: 'leased' }];
  });
  let closed = false;
  const close = async () => {
    if (!closed) await Promise.all(instances.map((gw) => gw.close()));
    closed = true;
  };
  t.teardown(close);
  return { key, prefix, instances, close };
}

/** `workers` clients per instance, all at once, each sending `each` requests one after another. */
async function load(instances: Gateway[], key: string, workers: number, each: number): Promise<Answer[]> {
  const clients = instances.flatMap((gw) => Array.from({ length: workers }, () => gw));
  const answers = await Promise.all(
    clients.map(async (gw) => {
      const mine: Answer[] = [];
      for (let i = 0; i < each; i++) mine.push(await post(gw.url, {}, key));
      return mine;
    }),
  );
  return answers.flat();
}

/** Admission scripts on the key's buckets (not the heartbeat, not usage). */
const admissions = (seen: SeenCommand[]) =>
  seen.filter(({ args }) => /^evalsha$|^eval$/i.test(args[0] ?? '') && args.some((a) => a.includes('rl:{key:')));

const redisNow = async () => {
  const [s, us] = await probe.time();
  return Number(s) * 1000 + Number(us) / 1000;
};

t.test('a busy key is served from leases and Redis ends charged exactly what was admitted', async (t) => {
  const limit = 100_000; // rpd: one unit refills every 864 ms, far more than the test's own time
  const { key, prefix, instances, close } = await pair(t, { rpd: limit });
  const interval = 86_400_000 / limit;
  const before = await redisNow();
  let answers: Answer[] = [];
  const seen = await monitored(probe, async () => {
    answers = await load(instances, key, 4, 50);
  });
  const admitted = answers.filter((a) => a.status === 200).length;
  t.equal(admitted, 400, 'every request admitted');
  const scripts = admissions(seen).length;
  t.ok(scripts < 200, `${scripts} admission scripts for 400 requests: most were served from leases`);
  const remaining = answers.map((a) => Number(a.headers['x-ratelimit-remaining-requests']));
  t.ok(remaining.every((r) => r <= limit - 1), 'headers never show more than the limit less one');

  await close(); // ends the leases: unused units go back
  const [bucket] = await probe.keys(`${prefix}rl:*:rpd`);
  const tat = Number(await probe.get(bucket!));
  const after = await redisNow();
  // Never full in between: GCRA is additive, so the TAT is the first request's time plus every unit.
  t.ok(
    tat >= before + admitted * interval - 1 && tat <= after + admitted * interval,
    `the bucket holds exactly ${admitted} units (TAT ${tat - before} ms after the start)`,
  );
  t.ok(
    Math.abs(tat - before - admitted * interval) < interval / 2,
    'to within half a unit: no lease unit was kept or lost',
  );
});

t.test('at the limit two busy instances admit exactly the limit between them', async (t) => {
  const { key, instances, close } = await pair(t, { rpd: 80 });
  const answers = await load(instances, key, 4, 20);
  t.equal(answers.filter((a) => a.status === 200).length, 80, 'exactly 80 of 160 pass');
  t.ok(
    answers.filter((a) => a.status === 429).every((a) => a.body?.error?.type === 'requests'),
    'every other one is an rpd 429',
  );
  await close();
});
