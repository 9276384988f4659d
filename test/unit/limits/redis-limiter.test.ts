import { setTimeout as sleep } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import t from 'tap';
import { EXPIRY_MARGIN_MS } from '../../../src/limits/gcra.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import type { Admission, Limiter, LimitRule } from '../../../src/limits/limiter.js';
import { MemoryLimiter } from '../../../src/limits/memory-limiter.js';
import { RedisLimiter } from '../../../src/limits/redis-limiter.js';
import type { RedisClient } from '../../../src/redis/client.js';
import { untilReady } from '../../../src/redis/ready.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';
import { monitored } from '../../helpers/redis-monitor.js';
import { limiterSuite } from './limiter-suite.js';

const [server, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
t.teardown(() => Promise.all([server.stop(), cluster.stop()]));
const run = `t${process.pid}-${Date.now()}`;
let prefixes = 0;

/** A limiter connection that is ready, on one server or on the cluster. */
async function connect(target: string | string[]): Promise<RedisClient> {
  const redis = createLimiterRedis(target, 1_000);
  redis.on('error', () => {}); // connection errors surface as rejected commands
  await untilReady(redis);
  return redis;
}

const connectRedis = () => connect(server.url) as Promise<Redis>;

/** A fresh key prefix per test: no flush needed, and safe on a shared REDIS_URL server. */
async function redisLimiter() {
  const redis = await connectRedis();
  const prefix = `${run}:${++prefixes}:`;
  return { redis, prefix, limiter: new RedisLimiter(redis, prefix) };
}

/** Script calls (EVALSHA, or EVAL after a NOSCRIPT) servers have run so far, read on a connection of its own. */
async function scriptCalls(servers: Redis[]): Promise<number> {
  let calls = 0;
  for (const redis of servers) {
    const stats = await redis.info('commandstats');
    for (const [, , count] of stats.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) calls += Number(count);
  }
  return calls;
}

/**
 * Where the shared-behaviour tests run: one redis-server, and a three-primary Redis Cluster, where a
 * turn's calls go out as one script call per slot (the subject's hash tag decides it).
 */
const backends = [
  {
    name: 'Redis',
    connect: () => connect(server.url),
    observe: async () => [await connectRedis()],
    scriptCallsFor: (_subjects: string[]) => 1,
    primaries: 1,
    primariesOf: async (_subjects: string[]) => 1,
  },
  {
    name: 'Redis Cluster',
    connect: () => connect(cluster.nodes),
    // Every node, replicas included: a script runs on its slot's primary only (replicas get its effects).
    observe: () => Promise.all(cluster.ports.map((port) => connect(`redis://127.0.0.1:${port}`) as Promise<Redis>)),
    scriptCallsFor: (subjects: string[]) => new Set(subjects.map((subject) => calculateSlot(`{${subject}}`))).size,
    primaries: 3,
    primariesOf: async (subjects: string[]) =>
      new Set(await Promise.all(subjects.map((subject) => cluster.primaryFor(`{${subject}}`)))).size,
  },
];

async function backendLimiter(backend: (typeof backends)[number]) {
  const redis = await backend.connect();
  const prefix = `${run}:${++prefixes}:`;
  return { redis, prefix, limiter: new RedisLimiter(redis, prefix) };
}

for (const backend of backends) {
  t.test(`RedisLimiter behaviour on ${backend.name}`, async (t) =>
    limiterSuite(t, async () => {
      const { redis, limiter } = await backendLimiter(backend);
      return {
        limiter,
        // Node timers may fire up to a ms early against Redis' own clock.
        elapse: (ms) => sleep(ms + 2),
        close: async () => {
          await limiter.close();
          await redis.quit();
        },
      };
    }),
  );
}

t.test('two instances on two connections admit exactly the limit between them', async (t) => {
  const a = await redisLimiter();
  const b = await redisLimiter();
  t.teardown(() => Promise.all([a.redis.quit(), b.redis.quit()]));
  const limiters = [new RedisLimiter(a.redis, a.prefix), new RedisLimiter(b.redis, a.prefix)];
  const rules = [{ dimension: 'rpm' as const, limit: 5, cost: 1 }];
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => limiters[i % 2]!.admit('key:shared:gpt', rules)),
  );
  t.equal(results.filter((r) => r.allowed).length, 5, 'exactly 5 of 40 concurrent admits succeed');
  const remaining = results.filter((r) => r.allowed).map((r) => r.buckets[0]!.remaining).sort();
  t.same(remaining, [0, 1, 2, 3, 4], 'each admitted request saw its own remaining count');
});

t.test('admissions of one subject in one event-loop turn share one script call', async (t) => {
  const { redis, limiter } = await redisLimiter();
  const observer = await connectRedis();
  t.teardown(() => Promise.all([redis.quit(), observer.quit()]));
  const rules = [{ dimension: 'rpm' as const, limit: 5, cost: 1 }];
  await limiter.admit('key:warm:gpt', rules); // loads the script: the first call may be an EVAL
  const before = await scriptCalls([observer]);
  const results = await Promise.all(Array.from({ length: 40 }, () => limiter.admit('key:batched:gpt', rules)));
  t.equal((await scriptCalls([observer])) - before, 1, 'one script call for 40 admissions');
  t.same(
    results.map((r) => r.allowed),
    [...Array(5).fill(true), ...Array(35).fill(false)],
    'the first 5 in arrival order are admitted',
  );
  t.same(results.slice(0, 5).map((r) => r.buckets[0]!.remaining), [4, 3, 2, 1, 0], 'each saw its own remaining count');
  t.ok(
    results
      .slice(5)
      .every((r) => r.denial?.dimension === 'rpm' && r.denial.used === 5 && r.denial.retryAfterMs > 0),
    'the rest are denied with a wait',
  );
});

t.test('a turn with many subjects and a long queue: one call per 64 admissions, whatever the subjects', async (t) => {
  const { redis, limiter } = await redisLimiter();
  const observer = await connectRedis();
  t.teardown(() => Promise.all([redis.quit(), observer.quit()]));
  const rules = [{ dimension: 'rpd' as const, limit: 100, cost: 1 }];
  await limiter.admit('key:warm:gpt', rules);
  const before = await scriptCalls([observer]);
  const [hot, a, b] = await Promise.all([
    Promise.all(Array.from({ length: 150 }, () => limiter.admit('key:hot:gpt', rules))),
    limiter.admit('key:a:gpt', rules),
    limiter.admit('key:b:gpt', rules),
  ]);
  t.equal((await scriptCalls([observer])) - before, 3, '152 admissions of 3 subjects in 3 calls');
  t.equal(hot.filter((r) => r.allowed).length, 100, 'exactly the limit is admitted across the calls');
  t.same(
    hot.slice(95, 101).map((r) => r.buckets[0]!.remaining),
    [4, 3, 2, 1, 0, 0],
    'counting continues from one call to the next',
  );
  t.same([a.buckets[0]!.remaining, b.buckets[0]!.remaining], [99, 99], 'other subjects have their own buckets');
});

/** A deterministic pseudo-random sequence (no flaky seeds): n → 0..n-1, from the high bits (the low ones cycle). */
function lcg(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor(seed / 2 ** 16) % n;
  };
}

/** What a test compares: day windows' retry waits in whole seconds, as two clocks microseconds apart agree. */
const outcome = (a: Admission) => ({
  allowed: a.allowed,
  remaining: a.buckets.map((b) => b.remaining),
  denial: a.denial && { ...a.denial, retryAfterMs: Math.round(a.denial.retryAfterMs / 1_000) },
});

t.test('a batch decides exactly as the same admissions one by one (costs, carries, denials, too large)', async (t) => {
  const { redis, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  // Day windows: their emission intervals (hours) dwarf the microseconds between two clocks.
  const reference = new MemoryLimiter({ now: () => Date.now() });
  const random = lcg(7);
  const sequence: LimitRule[][] = Array.from({ length: 60 }, () => {
    const tokens = random(5) === 0 ? 5_000 : 1 + random(400); // now and then more than the whole tpd
    const carry = random(3) === 0 ? random(600) - 300 : 0;
    return [
      { dimension: 'rpd', limit: 40, cost: 1 },
      { dimension: 'tpd', limit: 3_000, cost: tokens, ...(carry ? { carry } : {}) },
    ];
  });
  const batched = await Promise.all(sequence.map((rules) => limiter.admit('key:mixed:gpt', rules)));
  const oneByOne = [];
  for (const rules of sequence) oneByOne.push(await reference.admit('key:mixed:gpt', rules));
  t.same(batched.map(outcome), oneByOne.map(outcome), 'same admissions, remaining counts and denials');
  t.ok(
    batched.some((a) => a.denial?.tooLarge) &&
      batched.some((a) => a.denial && !a.denial.tooLarge) &&
      batched.some((a) => a.allowed),
    'the sequence has every outcome',
  );
});

for (const backend of backends) {
  t.test(`on ${backend.name}, a turn of many subjects, admits and adjusts mixed, decides as one by one`, async (t) => {
    const { redis, limiter } = await backendLimiter(backend);
    const observers = await backend.observe();
    t.teardown(() => Promise.all([redis, ...observers].map((client) => client.quit())));
    const reference = new MemoryLimiter({ now: () => Date.now() });
    const random = lcg(11);
    const subjects = Array.from({ length: 6 }, (_, i) => `key:s${i}:gpt`);
    type Deltas = { dimension: 'tpd'; limit: number; delta: number }[];
    type Call = { subject: string } & ({ rules: LimitRule[]; deltas?: never } | { rules?: never; deltas: Deltas });
    const calls: Call[] = Array.from({ length: 60 }, () => {
      const subject = subjects[random(subjects.length)]!;
      if (random(4) === 0) return { subject, deltas: [{ dimension: 'tpd', limit: 2_000, delta: random(800) - 500 }] };
      const rules: LimitRule[] = [
        { dimension: 'rpd', limit: 6, cost: 1 },
        { dimension: 'tpd', limit: 2_000, cost: random(6) === 0 ? 2_500 : 1 + random(500) },
      ];
      return { subject, rules };
    });
    const run = (l: Limiter, { subject, rules, deltas }: Call) =>
      rules ? l.admit(subject, rules) : l.adjust(subject, deltas).then(() => undefined);
    t.equal(await backend.primariesOf(subjects), backend.primaries, 'the subjects live on every primary');
    // Loads the script on every primary (a first call there may be an EVAL), leaving the buckets full.
    await Promise.all(subjects.map((subject) => limiter.admit(subject, [{ dimension: 'rpd', limit: 1, cost: 0 }])));
    const before = await scriptCalls(observers);
    const batched = await Promise.all(calls.map((call) => run(limiter, call)));
    t.equal(
      (await scriptCalls(observers)) - before,
      backend.scriptCallsFor(subjects),
      `one script call per slot for ${calls.length} calls of 6 subjects`,
    );
    const oneByOne = [];
    for (const call of calls) oneByOne.push(await run(reference, call));
    const shown = (a: Admission | undefined) => a && outcome(a);
    t.same(batched.map(shown), oneByOne.map(shown), 'same admissions, remaining counts and denials');
    const state = (l: Limiter, subject: string) =>
      l.admit(subject, [{ dimension: 'rpd', limit: 6, cost: 0 }, { dimension: 'tpd', limit: 2_000, cost: 0 }]);
    t.same(
      (await Promise.all(subjects.map((s) => state(limiter, s)))).map(outcome),
      await Promise.all(subjects.map(async (s) => outcome(await state(reference, s)))),
      'every bucket ends where one call at a time leaves it',
    );
    t.ok(
      batched.some((a) => a?.denial?.tooLarge) && batched.some((a) => a?.denial && !a.denial.tooLarge) &&
        batched.some((a) => a?.allowed) && batched.some((a) => a === undefined),
      'the turn has every outcome, and adjustments',
    );
  });

  t.test(`on ${backend.name}, two instances admit exactly the limit of every one of many subjects`, async (t) => {
    const a = await backendLimiter(backend);
    const b = await backendLimiter(backend);
    t.teardown(() => Promise.all([a.redis.quit(), b.redis.quit()]));
    const limiters = [new RedisLimiter(a.redis, a.prefix), new RedisLimiter(b.redis, a.prefix)];
    const rules = [{ dimension: 'rpm' as const, limit: 3, cost: 1 }];
    const subjects = Array.from({ length: 50 }, (_, i) => `key:many${i}:gpt`);
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => limiters[i % 2]!.admit(subjects[i % subjects.length]!, rules)),
    );
    const admitted = subjects.map((_, s) => results.filter((r, i) => r.allowed && i % subjects.length === s).length);
    t.same(admitted, subjects.map(() => 3), 'exactly 3 of 10 for each of 50 subjects');
  });
}

t.test('a failed call rejects every admission and adjustment of its batch, whatever their subjects', async (t) => {
  const { redis, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  redis.tollgateAdmit = (async () => {
    throw new Error('boom');
  }) as unknown as typeof redis.tollgateAdmit;
  const rules = [{ dimension: 'rpm' as const, limit: 5, cost: 1 }];
  const outcomes = await Promise.allSettled([
    limiter.admit('key:x:gpt', rules),
    limiter.admit('key:y:gpt', rules),
    limiter.adjust('key:z:gpt', [{ dimension: 'rpm', limit: 5, delta: -1 }]),
  ]);
  t.same(
    outcomes.map((o) => o.status === 'rejected' && (o.reason as Error).message),
    ['boom', 'boom', 'boom'],
    'each call rejects with the error',
  );
});

t.test('a reply that does not parse rejects every admission of its batch, none is left waiting', async (t) => {
  const { redis, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  // Stands in for a script bug: one reply where the batch expects two.
  redis.tollgateAdmit = (async () => '0,0,0,4,0') as unknown as typeof redis.tollgateAdmit;
  const rules = [{ dimension: 'rpm' as const, limit: 5, cost: 1 }];
  const outcomes = await Promise.allSettled([limiter.admit('key:bad:gpt', rules), limiter.admit('key:bad:gpt', rules)]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected'],
    'the parsed one is answered, the other rejected, not hung',
  );
});

t.test('keys are hash-tagged per subject and expire when full again', async (t) => {
  const { redis, prefix, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  const admitted = performance.now();
  await limiter.admit('key:k1:gpt', [
    { dimension: 'rpm', limit: 10, cost: 1 },
    { dimension: 'tpm', limit: 1_000, cost: 500 },
  ]);
  const keys = (await redis.keys(`${prefix}*`)).sort();
  t.same(
    keys,
    [`${prefix}rl:{key:k1:gpt}:rpm`, `${prefix}rl:{key:k1:gpt}:tpm`],
    'one key per dimension, subject as hash tag',
  );
  const ttl = await redis.pttl(`${prefix}rl:{key:k1:gpt}:tpm`);
  // PX is the refill time plus a margin; what has passed since the admission comes off it.
  const lived = performance.now() - admitted;
  t.ok(
    ttl >= 30_000 - lived && ttl <= 30_000 + EXPIRY_MARGIN_MS,
    `tpm key lives until the bucket is full again (${ttl} ms)`,
  );
  await limiter.adjust('key:k1:gpt', [{ dimension: 'tpm', limit: 1_000, delta: -500 }]);
  t.equal(await redis.exists(`${prefix}rl:{key:k1:gpt}:tpm`), 0, 'a bucket refunded to full is deleted');
  t.throws(() => new RedisLimiter(redis, 'bad{prefix}:'), RangeError, 'a prefix with braces would hijack the hash tag');
});

t.test('scripts are reloaded after Redis loses them', async (t) => {
  const { redis, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  await limiter.admit('key:k2:gpt', [{ dimension: 'rpm', limit: 10, cost: 1 }]);
  await redis.script('FLUSH');
  const again = await limiter.admit('key:k2:gpt', [{ dimension: 'rpm', limit: 10, cost: 1 }]);
  t.equal(again.buckets[0]?.remaining, 8, 'NOSCRIPT falls back to EVAL and the bucket state survived');
});

// Latency is shown, not asserted: bench/ measures what a limited request costs (on Redis with
// BENCH_REDIS_URL). What is asserted is what keeps it low: an admission is one command sent, whatever
// the number of buckets.
t.test('admit latency on loopback', async (t) => {
  const { redis, limiter } = await redisLimiter();
  const observer = await connectRedis();
  t.teardown(() => Promise.all([redis.quit(), observer.quit()]));
  const rules = [
    { dimension: 'rpm' as const, limit: 1e9, cost: 1 },
    { dimension: 'tpm' as const, limit: 1e12, cost: 1_500 },
  ];
  for (let i = 0; i < 200; i++) await limiter.admit(`key:warm:${i % 10}`, rules);
  const samples: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    const start = performance.now();
    await limiter.admit(`key:lat:${i % 100}`, rules);
    samples.push(performance.now() - start);
  }
  samples.sort((x, y) => x - y);
  const p50 = samples[1_000]!;
  const p99 = samples[1_980]!;
  t.comment(`admit with 2 buckets, sequential: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
  // Counted apart from the timed run (MONITOR slows the server down), on the limiter's connection only.
  const address = /\baddr=(\S+)/.exec(String(await redis.client('INFO')))?.[1];
  const seen = await monitored(observer, async () => {
    for (let i = 0; i < 100; i++) await limiter.admit(`key:lat:${i}`, rules);
  });
  const sent = seen.filter((command) => command.source === address);
  t.ok(
    sent.length === 100 && sent.every(({ args: [name] }) => /^evalsha$/i.test(name ?? '')),
    `one round trip, not several: ${sent.length} commands sent for 100 admissions, each an EVALSHA`,
  );
});

// Last in the file: it changes the cluster's topology. A manual failover is coordinated: the primary stops
// taking writes, its replica catches up and takes over, then the old primary answers MOVED. So no admission
// is lost (each one Redis acknowledged is on the new primary) and none is charged twice (a call refused
// during the switch never ran: MOVED, or a timeout while the old primary held it, which it then answers with
// MOVED). The bound asserted: per subject, the buckets charged exactly what was admitted — zero
// over-admission, zero double charge; calls that failed (FailoverLimiter's fallback answers them in the
// gateway) are counted and shown.
t.test('on Redis Cluster, a failover mid-load neither loses nor doubles an admission', async (t) => {
  const { redis, limiter } = await backendLimiter(backends[1]!);
  t.teardown(() => redis.quit());
  const limit = 1_000; // a day's requests: a few seconds refill nothing
  const rules = [{ dimension: 'rpd' as const, limit, cost: 1 }];
  const subjects = Array.from({ length: 12 }, (_, i) => `key:failover${i}:gpt`);
  const victim = await cluster.primaryFor(`{${subjects[0]}}`);
  const counts = new Map(subjects.map((subject) => [subject, { admitted: 0, denied: 0, failed: 0 }]));
  const wave = () =>
    Promise.all(
      subjects.map(async (subject) => {
        const count = counts.get(subject)!;
        try {
          count[(await limiter.admit(subject, rules)).allowed ? 'admitted' : 'denied']++;
        } catch {
          count.failed++;
        }
      }),
    );
  for (let i = 0; i < 10; i++) await wave();
  const state = { failedOver: false };
  const failover = cluster.failover(victim).then(() => (state.failedOver = true));
  while (!state.failedOver) await Promise.all([wave(), sleep(5)]);
  await failover;
  for (let i = 0; i < 10; i++) await wave();
  const remaining = await Promise.all(
    subjects.map(async (subject) => (await limiter.admit(subject, [{ ...rules[0]!, cost: 0 }])).buckets[0]!.remaining),
  );
  const tally = [...counts.values()];
  t.same(remaining, tally.map(({ admitted }) => limit - admitted), 'every bucket charged exactly what it admitted');
  t.same(tally.map(({ denied }) => denied), subjects.map(() => 0), 'nothing was refused for want of capacity');
  const sum = (field: 'admitted' | 'failed') => tally.reduce((total, count) => total + count[field], 0);
  t.comment(`failover of port ${victim} mid-load: ${sum('admitted')} admitted, ${sum('failed')} calls failed`);
});
