import { once } from 'node:events';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { hashKey, isKeyActive } from '../../../src/keys/api-key.js';
import { StoreUnavailableError } from '../../../src/errors.js';
import { RedisKeyStore } from '../../../src/keys/redis-key-store.js';
import type { RedisClient } from '../../../src/redis/client.js';
import { pastTtl } from '../../helpers/cache-ttl.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';
import { readyConnection } from '../../helpers/redis-connection.js';
import { keysUnder } from '../../helpers/redis-keys.js';
import { keyStoreSuite } from './key-store-suite.js';

const [server, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
t.teardown(() => Promise.all([server.stop(), cluster.stop()]));
const run = `t${process.pid}-${Date.now()}`;
let prefixes = 0;

async function connect(t: Test): Promise<Redis> {
  const redis = new Redis(server.url);
  t.teardown(() => redis.quit());
  await once(redis, 'ready');
  return redis;
}

/** Where the shared-behaviour tests run: one redis-server, and a three-primary Redis Cluster. */
const backends = [
  { name: 'Redis', target: server.url },
  { name: 'Redis Cluster', target: cluster.nodes },
];

/** Every key name and value under a prefix, whatever its type. */
async function storedText(redis: RedisClient, prefix: string): Promise<string[]> {
  const text: string[] = [];
  for (const key of await keysUnder(redis, prefix)) {
    text.push(key);
    const type = await redis.type(key);
    if (type === 'string') text.push((await redis.get(key)) ?? '');
    else if (type === 'hash') text.push(...Object.entries(await redis.hgetall(key)).flat());
    else if (type === 'set') text.push(...(await redis.smembers(key)));
    else throw new Error(`unexpected ${type} at ${key}`);
  }
  return text;
}

for (const backend of backends) {
  t.test(`RedisKeyStore behaviour on ${backend.name}`, async (t) =>
    keyStoreSuite(t, async () => {
      const redis = await readyConnection(backend.target);
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

  t.test(`the documented layout on ${backend.name}`, async (t) => {
    const redis = await readyConnection(backend.target);
    t.teardown(() => redis.quit());
    const prefix = `${run}:${++prefixes}:`;
    const { record } = await new RedisKeyStore(redis, { keyPrefix: prefix }).create({ name: 'a', tier: 't' });
    t.same(
      await keysUnder(redis, prefix),
      [`${prefix}key:${record.id}`, `${prefix}keyhash:${record.keyHash}`, `${prefix}keys`].sort(),
      'record, hash index and id set',
    );
    t.equal(await redis.get(`${prefix}keyhash:${record.keyHash}`), record.id, 'the hash index points at the id');
  });

  t.test(`on ${backend.name}, a create cut short before the id set leaves no key anyone sees`, async (t) => {
    const redis = await readyConnection(backend.target);
    t.teardown(() => redis.quit());
    const store = new RedisKeyStore(redis, { keyPrefix: `${run}:${++prefixes}:` });
    const kept = await store.create({ name: 'kept', tier: 't' });
    const sadd = redis.sadd.bind(redis);
    redis.sadd = (async () => {
      throw new Error('connection lost');
    }) as typeof redis.sadd;
    await t.rejects(store.create({ name: 'cut', tier: 't' }), StoreUnavailableError, 'the create fails: no plaintext');
    redis.sadd = sadd;
    t.same(
      (await store.list()).map((r) => r.name),
      ['kept'],
      'the record written before the failure is not listed',
    );
    t.equal((await store.findByHash(kept.record.keyHash))?.name, 'kept', 'the other key is unaffected');
  });
}

/** Creates keys until their records live on every primary; answers them with each record's primary. */
async function keysOnEveryPrimary(store: RedisKeyStore, prefix: string) {
  const created: Array<Awaited<ReturnType<RedisKeyStore['create']>> & { port: number }> = [];
  while (new Set(created.map((key) => key.port)).size < cluster.nodes.length) {
    if (created.length === 100) throw new Error('100 random ids and still a primary without a record');
    const key = await store.create({ name: `key-${created.length}`, tier: 'tier-1' });
    created.push({ ...key, port: await cluster.primaryFor(`${prefix}key:${key.record.id}`) });
  }
  return created;
}

t.test('on Redis Cluster, keys on different primaries are created, found, revoked and listed', async (t) => {
  const redis = await readyConnection(cluster.nodes);
  t.teardown(() => redis.quit());
  const prefix = `${run}:${++prefixes}:`;
  const store = new RedisKeyStore(redis, { keyPrefix: prefix, cacheTtlMs: 0 });
  const created = await keysOnEveryPrimary(store, prefix);
  const lookups = await Promise.all(created.map((key) => cluster.primaryFor(`${prefix}keyhash:${key.record.keyHash}`)));
  t.ok(new Set(lookups).size > 1, 'the lookups are spread over primaries too');
  for (const { record, plaintext } of created) {
    t.same(await store.findByHash(hashKey(plaintext)), record, `${record.name} is found by its client key`);
  }
  t.same(
    (await store.list()).map((r) => r.id).sort(),
    created.map((key) => key.record.id).sort(),
    'list holds every key, from every primary',
  );
  for (const { record, plaintext } of created) {
    t.ok((await store.revoke(record.id))?.revokedAt, `${record.name} is revoked`);
    t.notOk(isKeyActive((await store.findByHash(hashKey(plaintext)))!), `${record.name} is refused from then on`);
  }
  t.ok((await store.list()).every((r) => r.revokedAt), 'list shows every key revoked');
});

for (const change of ['revoke', 'update'] as const) {
  t.test(
    `${change === 'revoke' ? 'a revocation' : 'a patch'} on instance A reaches instance B within one second`,
    async (t) => {
      const prefix = `${run}:${++prefixes}:`;
      const a = new RedisKeyStore(await connect(t), { keyPrefix: prefix });
      const onB = await connect(t);
      const b = new RedisKeyStore(onB, { keyPrefix: prefix });
      const { record, plaintext } = await a.create({ name: 'alice', tier: 'tier-1' });
      const hash = hashKey(plaintext);
      t.ok(isKeyActive((await b.findByHash(hash))!), 'B accepts the key (and caches it)');
      const changed = (r: Awaited<ReturnType<typeof b.findByHash>>) =>
        change === 'revoke' ? !isKeyActive(r!) : r?.name === 'renamed';
      const changedAt = Date.now();
      if (change === 'revoke') await a.revoke(record.id);
      else await a.update(record.id, { name: 'renamed' });
      await pastTtl(changedAt, 1_000);
      let lookups = 0;
      const get = onB.get.bind(onB);
      onB.get = ((key: string) => {
        lookups++;
        return get(key);
      }) as typeof onB.get;
      t.ok(changed(await b.findByHash(hash)), `B sees the ${change}`);
      t.equal(lookups, 1, 'within one second: by then B no longer answers from its cache, it asks Redis');
    },
  );
}

t.test('concurrent misses for one hash share one Redis lookup', async (t) => {
  const redis = await connect(t);
  const store = new RedisKeyStore(redis, { keyPrefix: `${run}:${++prefixes}:` });
  const { plaintext } = await store.create({ name: 'alice', tier: 'tier-1' });
  const unknown = hashKey('sk-tg-unknown');
  let gets = 0;
  const get = redis.get.bind(redis);
  redis.get = ((key: string) => {
    gets++;
    return get(key);
  }) as typeof redis.get;
  const found = await Promise.all(Array.from({ length: 20 }, () => store.findByHash(hashKey(plaintext))));
  await Promise.all(Array.from({ length: 20 }, () => store.findByHash(unknown)));
  t.ok(found.every((r) => r?.name === 'alice'), 'every caller gets the record');
  t.equal(gets, 2, 'one index lookup per hash, negative answers included');
  await store.findByHash(unknown);
  t.equal(gets, 2, 'a repeat within the TTL is served from the cache');
});

/** Makes the store's index lookups fail as a dead Redis would, until the returned function is called. */
function breakLookups(redis: Redis): () => void {
  const get = redis.get.bind(redis);
  redis.get = (async () => {
    throw new Error('connection lost');
  }) as typeof redis.get;
  return () => (redis.get = get);
}

t.test('a Redis failure is not cached', async (t) => {
  const redis = await connect(t);
  const store = new RedisKeyStore(redis, { keyPrefix: `${run}:${++prefixes}:` });
  const { plaintext } = await store.create({ name: 'alice', tier: 'tier-1' });
  const repair = breakLookups(redis);
  const err = await store.findByHash(hashKey(plaintext)).catch((e: unknown) => e);
  t.type(err, StoreUnavailableError, 'a key never resolved here: the lookup fails as StoreUnavailableError');
  t.match((err as Error).cause, /connection lost/, 'with the Redis error as its cause');
  repair();
  t.equal((await store.findByHash(hashKey(plaintext)))?.name, 'alice', 'the next lookup goes to Redis again');
});

// Regression: admin-created keys got 503 key_store_unavailable a second into an outage (1,360 of
// 1,702 requests in 3 s), once their cache entry expired.
t.test('a key resolved before is answered from its last known record while lookups fail', async (t) => {
  const redis = await connect(t);
  const fallbacks: boolean[] = [];
  const store = new RedisKeyStore(redis, {
    keyPrefix: `${run}:${++prefixes}:`,
    cacheTtlMs: 0,
    onFallback: (_err, served) => fallbacks.push(served),
  });
  const alice = await store.create({ name: 'alice', tier: 'tier-1' });
  const bob = await store.create({ name: 'bob', tier: 'tier-1' });
  t.equal((await store.findByHash(hashKey(alice.plaintext)))?.name, 'alice', 'alice resolved while Redis answers');
  t.equal(await store.findByHash(hashKey('sk-tg-made-up')), undefined, 'a made-up key: not found');
  const repair = breakLookups(redis);
  t.equal(
    (await store.findByHash(hashKey(alice.plaintext)))?.name,
    'alice',
    'alice: answered from her last known record',
  );
  await t.rejects(store.findByHash(hashKey(bob.plaintext)), StoreUnavailableError, 'bob, never resolved here: refused');
  await t.rejects(store.findByHash(hashKey('sk-tg-made-up')), StoreUnavailableError, 'the made-up key was never kept');
  t.same(fallbacks, [true, false, false], 'onFallback hears of every failed lookup, and whether it was answered');
  repair();

  await store.revoke(alice.record.id);
  breakLookups(redis);
  t.ok(
    (await store.findByHash(hashKey(alice.plaintext)))?.revokedAt,
    'revoked here: her last known record is the revoked one',
  );
});

t.test('once lookups succeed again, a revocation made elsewhere replaces the last known record', async (t) => {
  const prefix = `${run}:${++prefixes}:`;
  const here = await connect(t);
  const store = new RedisKeyStore(here, { keyPrefix: prefix, cacheTtlMs: 0 });
  const other = new RedisKeyStore(await connect(t), { keyPrefix: prefix });
  const { record, plaintext } = await other.create({ name: 'alice', tier: 'tier-1' });
  await store.findByHash(hashKey(plaintext));
  await other.revoke(record.id);
  t.ok(
    (await store.findByHash(hashKey(plaintext)))?.revokedAt,
    'Redis answers: the revocation is seen, not the last known record',
  );
  breakLookups(here);
  t.ok((await store.findByHash(hashKey(plaintext)))?.revokedAt, 'and the next outage answers with the revoked record');
});

t.test('a cache TTL beyond one second is refused', async (t) => {
  const redis = await connect(t);
  t.throws(
    () => new RedisKeyStore(redis, { keyPrefix: 'x:', cacheTtlMs: 5_000 }),
    RangeError,
    'revocations must propagate within 1 s',
  );
});
