// Two gateway instances on one Redis, or on one Redis Cluster, admit exactly as many requests as one would,
// for one key and for many (on the cluster, keys whose buckets live on every primary).
import t, { type Test } from 'tap';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import { ALIAS, randomKey, type Gateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';
import { post, twoGatewaysOnRedis, type RedisTarget } from '../../helpers/rate-limit-harness.js';

const REQUESTS = 40;
const RPM = 5;

const [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
const mock = await startMockUpstream();
t.teardown(async () => {
  await mock.close();
  await Promise.all([redis.stop(), cluster.stop()]);
});

/** The primary port serving a static key's rate-limit buckets (their hash tag is the limiter subject). */
const primaryOf = (key: string) => cluster.primaryFor(`{key:${staticKeyId(hashKey(key))}:${ALIAS}}`);

/** Where both gateways run, and whether some keys' buckets live on every one of its primaries. */
const backends: { name: string; redis: RedisTarget; onEveryPrimary: (keys: string[]) => Promise<boolean> }[] = [
  { name: 'one Redis', redis: redis.url, onEveryPrimary: async () => true },
  {
    name: 'a Redis Cluster',
    redis: cluster.nodes,
    onEveryPrimary: async (keys) => new Set(await Promise.all(keys.map(primaryOf))).size === cluster.nodes.length,
  },
];

/** `count` random keys whose buckets live on every primary of the backend. */
async function keysOnEveryPrimary(backend: (typeof backends)[number], count: number): Promise<string[]> {
  for (;;) {
    const keys = Array.from({ length: count }, (_, i) => randomKey(`many${i}`));
    // 25 random keys miss one of three primaries once in ~8,000 draws: then another draw, never a failure.
    if (await backend.onEveryPrimary(keys)) return keys;
  }
}

for (const backend of backends) {
  /** Two gateways on one key prefix (so they share the buckets), every key on tier rpm RPM. */
  const twoInstances = async (t: Test, keys: string[]): Promise<Gateway[]> => {
    const { instances } = await twoGatewaysOnRedis(backend.redis, mock, (raw) => {
      raw.tiers.limited = { rpm: RPM };
      raw.keys = keys.map((key, i) => ({ name: `k${i}`, key, tier: 'limited' }));
    });
    t.teardown(() => Promise.all(instances.map((gw) => gw.close())));
    return instances;
  };

  t.test(`on ${backend.name}, ${REQUESTS} concurrent requests on two instances, rpm ${RPM}: ${RPM} pass`, async (t) => {
    const key = randomKey('shared');
    const instances = await twoInstances(t, [key]);
    mock.reset();

    const sent = Array.from({ length: REQUESTS }, (_, i) => post(instances[i % 2]!.url, {}, key));
    const answers = await Promise.all(sent);
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

  t.test(`on ${backend.name}, many keys at once across two instances: exactly the limit of each passes`, async (t) => {
    const KEYS = 25;
    const PER_KEY = 6;
    const keys = await keysOnEveryPrimary(backend, KEYS);
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
}
