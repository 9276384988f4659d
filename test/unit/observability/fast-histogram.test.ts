import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../../src/observability/fast-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const labelNames = ['provider', 'model'] as const;

t.test('the exposition is the one prom-client writes for its own Histogram', async (t) => {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: 'latency_seconds',
    help: 'Latency.',
    labelNames,
    buckets: BUCKETS,
    registers: [theirs],
  });
  const fast = new FastHistogram({
    name: 'latency_seconds',
    help: 'Latency.',
    labelNames,
    buckets: BUCKETS,
    registers: [ours],
  });
  // Values below, on and between the bounds, above the last one, and a second label set.
  const observations: [Record<(typeof labelNames)[number], string>, number][] = [
    [{ provider: 'openai', model: 'nano' }, 0],
    [{ provider: 'openai', model: 'nano' }, 0.001],
    [{ provider: 'openai', model: 'nano' }, 0.0010001],
    [{ provider: 'openai', model: 'nano' }, 0.5],
    [{ provider: 'openai', model: 'nano' }, 7],
    [{ model: 'nano', provider: 'oxen' }, 0.02],
    [{ model: 'nano', provider: 'oxen' }, 1],
  ];
  for (const [labels, value] of observations) {
    reference.observe(labels, value);
    fast.observe(labels, value);
  }
  t.equal(await ours.metrics(), await theirs.metrics(), 'byte for byte');
  t.match(await ours.metrics(), /^latency_seconds_bucket\{le="\+Inf",provider="openai",model="nano"\} 5$/m);
});

t.test('a value that is not a finite number is not counted, and does not throw', async (t) => {
  const registry = new Registry();
  const fast = new FastHistogram({
    name: 'x_seconds',
    help: 'X.',
    labelNames: ['route'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  fast.observe({ route: 'chat' }, Number.NaN);
  fast.observe({ route: 'chat' }, 0.5);
  t.match(await registry.metrics(), /^x_seconds_count\{route="chat"\} 1$/m);
  t.match(await registry.metrics(), /^x_seconds_sum\{route="chat"\} 0\.5$/m);
  fast.reset();
  t.notMatch(await registry.metrics(), /x_seconds_count/, 'reset empties it');
});
