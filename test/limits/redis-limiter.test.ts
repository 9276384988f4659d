import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t from 'tap';
import { EXPIRY_MARGIN_MS } from '../../src/limits/gcra.js';
import { createLimiterRedis } from '../../src/limits/redis-client.js';
import { RedisLimiter } from '../../src/limits/redis-limiter.js';
import { startRedis } from '../helpers/redis.js';
import { limiterSuite } from './limiter-suite.js';

const server = await startRedis();
t.teardown(() => server.stop());
const run = `t${process.pid}-${Date.now()}`;
let prefixes = 0;

async function connectRedis(): Promise<Redis> {
  const redis = createLimiterRedis(server.url, 1_000);
  redis.on('error', () => {}); // connection errors surface as rejected commands
  await once(redis, 'ready');
  return redis;
}

/** A fresh key prefix per test: no flush needed, and safe on a shared REDIS_URL server. */
async function redisLimiter() {
  const redis = await connectRedis();
  const prefix = `${run}:${++prefixes}:`;
  return { redis, prefix, limiter: new RedisLimiter(redis, prefix) };
}

t.test('RedisLimiter behaviour', async (t) =>
  limiterSuite(t, async () => {
    const { redis, limiter } = await redisLimiter();
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

t.test('two instances on two connections admit exactly the limit between them', async (t) => {
  const a = await redisLimiter();
  const b = await redisLimiter();
  t.teardown(() => Promise.all([a.redis.quit(), b.redis.quit()]));
  const limiters = [new RedisLimiter(a.redis, a.prefix), new RedisLimiter(b.redis, a.prefix)];
  const rules = [{ dimension: 'rpm' as const, limit: 5, cost: 1 }];
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => limiters[i % 2]!.admit('key:shared:gpt', rules)));
  t.equal(results.filter((r) => r.allowed).length, 5, 'exactly 5 of 40 concurrent admits succeed');
  const remaining = results.filter((r) => r.allowed).map((r) => r.buckets[0]!.remaining).sort();
  t.same(remaining, [0, 1, 2, 3, 4], 'each admitted request saw its own remaining count');
});

t.test('keys are hash-tagged per subject and expire when full again', async (t) => {
  const { redis, prefix, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  await limiter.admit('key:k1:gpt', [{ dimension: 'rpm', limit: 10, cost: 1 }, { dimension: 'tpm', limit: 1_000, cost: 500 }]);
  const keys = (await redis.keys(`${prefix}*`)).sort();
  t.same(keys, [`${prefix}rl:{key:k1:gpt}:rpm`, `${prefix}rl:{key:k1:gpt}:tpm`], 'one key per dimension, subject as hash tag');
  const ttl = await redis.pttl(`${prefix}rl:{key:k1:gpt}:tpm`);
  t.ok(ttl > 29_000 && ttl <= 30_000 + EXPIRY_MARGIN_MS, `tpm key lives until the bucket is full again (${ttl} ms)`);
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

t.test('admit latency on loopback', async (t) => {
  const { redis, limiter } = await redisLimiter();
  t.teardown(() => redis.quit());
  const rules = [{ dimension: 'rpm' as const, limit: 1e9, cost: 1 }, { dimension: 'tpm' as const, limit: 1e12, cost: 1_500 }];
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
  t.ok(p50 < 5, `one round trip, not several (p50 ${p50.toFixed(3)} ms)`);
});
