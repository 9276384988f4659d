import { once } from 'node:events';
import t, { type Test } from 'tap';
import { FailoverLimiter, LimiterUnavailableError } from '../../src/limits/failover-limiter.js';
import type { Limiter, LimitRule } from '../../src/limits/limiter.js';
import { createLimiterRedis } from '../../src/limits/redis-client.js';
import { RedisLimiter } from '../../src/limits/redis-limiter.js';
import { startRedis } from '../helpers/redis.js';

const RULES: LimitRule[] = [{ dimension: 'rpm', limit: 2, cost: 1 }];
/** "Promptly": a dead Redis must cost a request far less than this. */
const PROMPT_MS = 1_000;

// Each test kills its own server, so none shares one.
async function setup(t: Test, failMode: 'open' | 'closed') {
  const server = await startRedis({ spawn: true });
  const redis = createLimiterRedis(server.url, 200);
  redis.on('error', () => {}); // reconnect failures while the server is down are expected
  await once(redis, 'ready');
  const notices: { err: unknown; failures: number }[] = [];
  const limiter = new FailoverLimiter(new RedisLimiter(redis, 'fo:'), {
    failMode,
    onFallback: (err, failures) => notices.push({ err, failures }),
  });
  t.teardown(async () => {
    await limiter.close();
    redis.disconnect();
    await server.stop();
  });
  return { server, redis, limiter, notices };
}

async function timed<T>(work: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const start = performance.now();
  try {
    return { value: await work, ms: performance.now() - start };
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
}

t.test('fail open: a dead Redis is answered from memory, and reported sparingly', async (t) => {
  const { server, limiter, notices } = await setup(t, 'open');
  t.ok((await limiter.admit('key:a:gpt', RULES)).allowed, 'Redis answers while it is up');
  await server.kill();
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await timed(limiter.admit('key:a:gpt', RULES)));
  t.ok(results.every((r) => r.ms < PROMPT_MS), `no call waits on the dead Redis (${results.map((r) => r.ms.toFixed(1)).join(', ')} ms)`);
  t.same(results.map((r) => r.value?.allowed), [true, true, false], 'memory enforces the limit on its own: 2 of 3 admitted');
  for (let i = 0; i < 20; i++) await limiter.admit(`key:flood${i}:gpt`, RULES);
  t.equal(notices.length, 1, 'onFallback is called once for 23 fallbacks within the notice interval');
  t.equal(notices[0]?.failures, 1, 'the first notice stands for one failure');
  t.ok(notices[0]?.err instanceof Error, 'the notice carries the Redis error');
  t.equal(limiter.fallbacks, 23, 'every fallback is counted');
  await t.resolves(limiter.adjust('key:a:gpt', [{ dimension: 'tpm', limit: 100, delta: 5 }]), 'adjust falls back too');
});

t.test('fail closed: a dead Redis rejects promptly with LimiterUnavailableError', async (t) => {
  const { server, limiter, notices } = await setup(t, 'closed');
  await server.kill();
  const admit = await timed(limiter.admit('key:b:gpt', RULES));
  t.ok(admit.error instanceof LimiterUnavailableError, 'admit rejects with LimiterUnavailableError');
  t.ok(admit.ms < PROMPT_MS, `it does not hang (${admit.ms.toFixed(1)} ms)`);
  t.ok((admit.error as Error).cause instanceof Error, 'the Redis error is kept as the cause');
  const adjust = await timed(limiter.adjust('key:b:gpt', [{ dimension: 'tpm', limit: 100, delta: -5 }]));
  t.ok(adjust.error instanceof LimiterUnavailableError && adjust.ms < PROMPT_MS, 'adjust rejects promptly too');
  t.equal(notices.length, 0, 'closed mode does not fall back');
  await t.rejects(limiter.admit('key:b:gpt', [{ dimension: 'rpm', limit: -1, cost: 1 }]), RangeError, 'a bad rule stays a RangeError');
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
  t.equal(await redis.exists('fo:rl:{key:c:gpt}:rpm'), 1, 'the bucket now lives in Redis (scripts reloaded on the empty server)');
});

t.test('a primary that never answers is cut off by the timeout', async (t) => {
  const stuck: Limiter = { admit: () => new Promise(() => {}), adjust: () => new Promise(() => {}), close: async () => {} };
  const open = new FailoverLimiter(stuck, { failMode: 'open', timeoutMs: 100 });
  const closed = new FailoverLimiter(stuck, { failMode: 'closed', timeoutMs: 100 });
  t.teardown(() => Promise.all([open.close(), closed.close()]));
  const served = await timed(open.admit('key:d:gpt', RULES));
  t.ok(served.value?.allowed && served.ms < 500, `open mode answers from memory after the timeout (${served.ms.toFixed(0)} ms)`);
  const refused = await timed(closed.admit('key:d:gpt', RULES));
  t.ok(refused.error instanceof LimiterUnavailableError && refused.ms < 500, `closed mode refuses after the timeout (${refused.ms.toFixed(0)} ms)`);
});
