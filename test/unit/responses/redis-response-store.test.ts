import { once } from 'node:events';
import { Redis } from 'ioredis';
import t from 'tap';
import { StoreUnavailableError } from '../../../src/errors.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { RedisResponseStore } from '../../../src/responses/redis-response-store.js';
import { startRedis } from '../../helpers/redis.js';
import { record, responseStoreSuite } from './response-store-suite.js';

const DAY_S = 86_400;

const server = await startRedis();
const redis = new Redis(server.url);
await once(redis, 'ready');
t.teardown(async () => {
  await redis.quit();
  await server.stop();
});
let prefixes = 0;
const freshPrefix = () => `t${process.pid}:${++prefixes}:`;

t.test('RedisResponseStore behaviour', async (t) =>
  responseStoreSuite(t, async () => {
    const store = new RedisResponseStore(redis, { keyPrefix: freshPrefix(), retentionDays: 30 });
    return { store, close: () => store.close() };
  }),
);

t.test('one JSON string per record under the prefix, expiring retentionDays after its write', async (t) => {
  const prefix = freshPrefix();
  const store = new RedisResponseStore(redis, { keyPrefix: prefix, retentionDays: 7 });
  const kept = record('bridged');
  await store.put(kept);
  t.same(await redis.keys(`${prefix}*`), [`${prefix}response:${kept.id}`], 'one key, named by the id');
  t.same(JSON.parse((await redis.get(`${prefix}response:${kept.id}`))!), kept, 'the record as JSON');
  const ttl = await redis.ttl(`${prefix}response:${kept.id}`);
  t.ok(ttl > 7 * DAY_S - 5 && ttl <= 7 * DAY_S, `Redis expires it in 7 days (TTL ${ttl} s)`);
  await redis.expire(`${prefix}response:${kept.id}`, 60);
  await store.put(kept);
  t.ok((await redis.ttl(`${prefix}response:${kept.id}`)) > 60, 'a rewrite starts the retention again');
});

t.test('while Redis is away every call rejects with StoreUnavailableError and onError hears of it', async (t) => {
  const own = await startRedis({ spawn: true });
  t.teardown(() => own.stop());
  const client = createLimiterRedis(own.url, 200); // the fail-fast connection the plugin gives the store
  client.on('error', () => {});
  t.teardown(() => client.disconnect());
  await once(client, 'ready');
  const errors: unknown[] = [];
  const store = new RedisResponseStore(client, {
    keyPrefix: freshPrefix(),
    retentionDays: 30,
    onError: (err) => errors.push(err),
  });
  const kept = record('native');
  await store.put(kept);
  await own.kill();
  for (const call of [() => store.get(kept.id), () => store.put(kept), () => store.delete(kept.id)]) {
    const err = await call().catch((e: unknown) => e);
    t.type(err, StoreUnavailableError, 'rejected as StoreUnavailableError (a 503 to the client)');
    t.equal((err as StoreUnavailableError).store, 'responses', 'naming the responses store');
  }
  t.equal(errors.length, 3, 'onError heard of each failure');
});
