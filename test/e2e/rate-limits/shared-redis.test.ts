// Two gateway instances on one Redis admit exactly as many requests as one would, for one key and for many.
import t, { type Test } from 'tap';
import { randomKey, type Gateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';
import { post, twoGatewaysOnRedis } from '../../helpers/rate-limit-harness.js';

const REQUESTS = 40;
const RPM = 5;

const redis = await startRedis();
const mock = await startMockUpstream();
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});

/** Two gateways on one key prefix (so they share the buckets), every key on tier rpm RPM. */
async function twoInstances(t: Test, keys: string[]): Promise<Gateway[]> {
  const { instances } = await twoGatewaysOnRedis(redis.url, mock, (raw) => {
    raw.tiers.limited = { rpm: RPM };
    raw.keys = keys.map((key, i) => ({ name: `k${i}`, key, tier: 'limited' }));
  });
  t.teardown(() => Promise.all(instances.map((gw) => gw.close())));
  return instances;
}

t.test(`${REQUESTS} concurrent requests across two instances, tier rpm ${RPM}: exactly ${RPM} pass`, async (t) => {
  const key = randomKey('shared');
  const instances = await twoInstances(t, [key]);

  const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => post(instances[i % 2]!.url, {}, key)));
  const count = (status: number) => answers.filter((a) => a.status === status).length;
  t.equal(count(200), RPM, `${RPM} requests succeed`);
  t.equal(count(429), REQUESTS - RPM, `${REQUESTS - RPM} get 429`);
  t.equal(mock.requests.length, RPM, 'only the admitted requests reached the upstream');
  const servedBy = new Set(answers.flatMap((a, i) => (a.status === 200 ? [i % 2] : [])));
  const refusedBy = new Set(answers.flatMap((a, i) => (a.status === 429 ? [i % 2] : [])));
  t.same([...refusedBy].sort(), [0, 1], 'both instances refused requests');
  t.ok(servedBy.size >= 1, `the successes came from instance(s) ${[...servedBy].join(', ')}`);
  t.ok(
    answers.filter((a) => a.status === 429).every((a) => a.body?.error?.type === 'requests'),
    'every 429 is an rpm refusal',
  );
});

t.test('many keys at once across two instances: exactly the limit of each key passes', async (t) => {
  const KEYS = 25;
  const PER_KEY = 6;
  const keys = Array.from({ length: KEYS }, (_, i) => randomKey(`many${i}`));
  const instances = await twoInstances(t, keys);
  const sent = Array.from({ length: KEYS * PER_KEY }, (_, i) => ({
    instance: instances[i % 2]!,
    key: keys[i % KEYS]!,
  }));
  const answers = await Promise.all(sent.map(({ instance, key }) => post(instance.url, {}, key)));
  const passed = keys.map((key) => answers.filter((a, i) => a.status === 200 && sent[i]!.key === key).length);
  t.same(passed, keys.map(() => RPM), `${RPM} of ${PER_KEY} pass for each of ${KEYS} keys`);
  t.equal(answers.filter((a) => a.status === 429).length, KEYS * (PER_KEY - RPM), 'the rest get 429');
});
