import t from 'tap';
import { MemoryLimiter } from '../../../src/limits/memory-limiter.js';
import { limiterSuite } from './limiter-suite.js';

function clockedLimiter() {
  let now = 1_000_000;
  const limiter = new MemoryLimiter({ now: () => now });
  return { limiter, elapse: async (ms: number) => void (now += ms), close: () => limiter.close() };
}

t.test('MemoryLimiter behaviour', async (t) => limiterSuite(t, async () => clockedLimiter()));

t.test('sweep drops buckets once they are full again', async (t) => {
  const { limiter, elapse, close } = clockedLimiter();
  t.teardown(close);
  await limiter.admit('a', [{ dimension: 'rpm', limit: 10, cost: 1 }]);
  await limiter.admit('b', [{ dimension: 'rpd', limit: 10, cost: 1 }]);
  t.equal(limiter.sweep(), 2, 'both buckets are kept while not full');
  await elapse(6_000);
  t.equal(limiter.sweep(), 1, 'the rpm bucket is gone once refilled, the rpd one stays');
  await limiter.adjust('b', [{ dimension: 'rpd', limit: 10, delta: -1 }]);
  t.equal(limiter.sweep(), 0, 'a refund back to full removes the bucket at once');
});

t.test('reset is not inflated by float noise in the clock', async (t) => {
  const now = 14462.956596737653; // (now + 6000) - now === 6000.000000000002
  const limiter = new MemoryLimiter({ now: () => now });
  t.teardown(() => limiter.close());
  const { buckets } = await limiter.admit('a', [{ dimension: 'rpm', limit: 10, cost: 1 }]);
  t.equal(buckets[0]?.resetMs, 6_000, 'one 6 s interval reads 6000 ms, not 6001');
});
