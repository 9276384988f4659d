import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { hashKey, isKeyActive } from '../../src/keys/api-key.js';
import { RedisKeyStore } from '../../src/keys/redis-key-store.js';
import { startRedis } from '../helpers/redis.js';
import { keyStoreSuite } from './key-store-suite.js';

const server = await startRedis();
t.teardown(() => server.stop());
const run = `t${process.pid}-${Date.now()}`;
let prefixes = 0;

async function connect(t: Test): Promise<Redis> {
  const redis = new Redis(server.url);
  t.teardown(() => redis.quit());
  await once(redis, 'ready');
  return redis;
}

/** Every key name and value under a prefix, whatever its type. */
async function storedText(redis: Redis, prefix: string): Promise<string[]> {
  const text: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    text.push(key);
    const type = await redis.type(key);
    if (type === 'string') text.push((await redis.get(key)) ?? '');
    else if (type === 'hash') text.push(...Object.entries(await redis.hgetall(key)).flat());
    else if (type === 'set') text.push(...(await redis.smembers(key)));
    else throw new Error(`unexpected ${type} at ${key}`);
  }
  return text;
}

t.test('RedisKeyStore behaviour', async (t) =>
  keyStoreSuite(t, async () => {
    const redis = new Redis(server.url);
    await once(redis, 'ready');
    const prefix = `${run}:${++prefixes}:`;
    const store = new RedisKeyStore(redis, { keyPrefix: prefix });
    return {
      store,
      storedText: () => storedText(redis, prefix),
      close: async () => {
        await store.close();
        await redis.quit();
      },
    };
  }),
);

t.test('the documented layout', async (t) => {
  const redis = await connect(t);
  const prefix = `${run}:${++prefixes}:`;
  const { record } = await new RedisKeyStore(redis, { keyPrefix: prefix }).create({ name: 'a', tier: 't' });
  const keys = (await redis.keys(`${prefix}*`)).sort();
  t.same(keys, [`${prefix}key:${record.id}`, `${prefix}keyhash:${record.keyHash}`, `${prefix}keys`].sort(), 'record, hash index and id set');
  t.equal(await redis.get(`${prefix}keyhash:${record.keyHash}`), record.id, 'the hash index points at the id');
});

for (const change of ['revoke', 'update'] as const) {
  t.test(`${change === 'revoke' ? 'a revocation' : 'a patch'} on instance A reaches instance B within one second`, async (t) => {
    const prefix = `${run}:${++prefixes}:`;
    const a = new RedisKeyStore(await connect(t), { keyPrefix: prefix });
    const b = new RedisKeyStore(await connect(t), { keyPrefix: prefix });
    const { record, plaintext } = await a.create({ name: 'alice', tier: 'tier-1' });
    const hash = hashKey(plaintext);
    t.ok(isKeyActive((await b.findByHash(hash))!), 'B accepts the key (and caches it)');
    const changed = (r: Awaited<ReturnType<typeof b.findByHash>>) => (change === 'revoke' ? !isKeyActive(r!) : r?.name === 'renamed');
    const started = Date.now();
    if (change === 'revoke') await a.revoke(record.id);
    else await a.update(record.id, { name: 'renamed' });
    while (!changed(await b.findByHash(hash)) && Date.now() - started < 2_000) await sleep(10);
    const elapsed = Date.now() - started;
    t.ok(changed(await b.findByHash(hash)), `B sees the ${change}`);
    t.ok(elapsed < 1_100, `within one second (${elapsed} ms)`);
  });
}

t.test('concurrent misses for one hash share one Redis lookup', async (t) => {
  const redis = await connect(t);
  const store = new RedisKeyStore(redis, { keyPrefix: `${run}:${++prefixes}:` });
  const { plaintext } = await store.create({ name: 'alice', tier: 'tier-1' });
  const unknown = hashKey('sk-tg-unknown');
  let gets = 0;
  const get = redis.get.bind(redis);
  redis.get = ((key: string) => (gets++, get(key))) as typeof redis.get;
  const found = await Promise.all(Array.from({ length: 20 }, () => store.findByHash(hashKey(plaintext))));
  await Promise.all(Array.from({ length: 20 }, () => store.findByHash(unknown)));
  t.ok(found.every((r) => r?.name === 'alice'), 'every caller gets the record');
  t.equal(gets, 2, 'one index lookup per hash, negative answers included');
  await store.findByHash(unknown);
  t.equal(gets, 2, 'a repeat within the TTL is served from the cache');
});

t.test('a Redis failure is not cached', async (t) => {
  const redis = await connect(t);
  const store = new RedisKeyStore(redis, { keyPrefix: `${run}:${++prefixes}:` });
  const { plaintext } = await store.create({ name: 'alice', tier: 'tier-1' });
  const get = redis.get.bind(redis);
  redis.get = (async () => {
    throw new Error('connection lost');
  }) as typeof redis.get;
  await t.rejects(store.findByHash(hashKey(plaintext)), /connection lost/, 'the lookup error reaches the caller');
  redis.get = get;
  t.equal((await store.findByHash(hashKey(plaintext)))?.name, 'alice', 'the next lookup goes to Redis again');
});

t.test('a cache TTL beyond one second is refused', async (t) => {
  const redis = await connect(t);
  t.throws(() => new RedisKeyStore(redis, { keyPrefix: 'x:', cacheTtlMs: 5_000 }), RangeError, 'revocations must propagate within 1 s');
});
