import { once } from 'node:events';
import t from 'tap';
import { StoreUnavailableError } from '../../../src/errors.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { ResponseHistory } from '../../../src/responses/history.js';
import { RedisResponseStore } from '../../../src/responses/redis-response-store.js';
import type { StoredResponse } from '../../../src/responses/stored-response.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';
import { readyConnection } from '../../helpers/redis-connection.js';
import { keysUnder } from '../../helpers/redis-keys.js';
import { record, responseStoreSuite } from './response-store-suite.js';

const DAY_S = 86_400;

const [server, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
t.teardown(() => Promise.all([server.stop(), cluster.stop()]));
let prefixes = 0;
const freshPrefix = () => `t${process.pid}:${++prefixes}:`;

/** Where the shared-behaviour tests run: one redis-server, and a three-primary Redis Cluster. */
const backends = [
  { name: 'Redis', redis: await readyConnection(server.url) },
  { name: 'Redis Cluster', redis: await readyConnection(cluster.nodes) },
];
t.teardown(() => Promise.all(backends.map(({ redis }) => redis.quit())));

for (const { name, redis } of backends) {
  t.test(`RedisResponseStore behaviour on ${name}`, async (t) =>
    responseStoreSuite(t, async () => {
      const store = new RedisResponseStore(redis, { keyPrefix: freshPrefix(), retentionDays: 30 });
      return { store, close: () => store.close() };
    }),
  );

  t.test(`on ${name}, one JSON string per record, named by its id, expiring retentionDays after it`, async (t) => {
    const prefix = freshPrefix();
    const store = new RedisResponseStore(redis, { keyPrefix: prefix, retentionDays: 7 });
    const kept = record('bridged');
    await store.put(kept);
    t.same(await keysUnder(redis, prefix), [`${prefix}response:${kept.id}`], 'one key, named by the id');
    t.same(JSON.parse((await redis.get(`${prefix}response:${kept.id}`))!), kept, 'the record as JSON');
    const ttl = await redis.ttl(`${prefix}response:${kept.id}`);
    t.ok(ttl > 7 * DAY_S - 5 && ttl <= 7 * DAY_S, `Redis expires it in 7 days (TTL ${ttl} s)`);
    await redis.expire(`${prefix}response:${kept.id}`, 60);
    await store.put(kept);
    t.ok((await redis.ttl(`${prefix}response:${kept.id}`)) > 60, 'a rewrite starts the retention again');
  });
}

/** A chain of records, each onto the one before, until the chain has a record on every primary. */
async function chainOnEveryPrimary(prefix: string): Promise<StoredResponse[]> {
  const chain: StoredResponse[] = [];
  const ports = new Set<number>();
  while (ports.size < cluster.nodes.length) {
    if (chain.length === 100) throw new Error('100 random ids and still a primary without a record');
    const previous = chain.at(-1);
    const next = record('bridged', previous && { previousResponseId: previous.id });
    chain.push(next);
    ports.add(await cluster.primaryFor(`${prefix}response:${next.id}`));
  }
  return chain;
}

t.test('on Redis Cluster, a chain of records on different primaries is stored, walked and deleted', async (t) => {
  const prefix = freshPrefix();
  const store = new RedisResponseStore(backends[1]!.redis, { keyPrefix: prefix, retentionDays: 30 });
  const chain = await chainOnEveryPrimary(prefix);
  await Promise.all(chain.map((kept) => store.put(kept)));
  for (const kept of chain) t.same(await store.get(kept.id), kept, `${kept.id} is read back whole`);
  const history = new ResponseHistory(store);
  const head = chain.at(-1)!;
  /** What the walk answers for these records: their items, oldest first, without ids. */
  const turns = (records: StoredResponse[]) =>
    records.flatMap((r) => [...r.input, ...r.output]).map(({ id: _id, ...item }) => item);
  t.same(await history.items(head), turns(chain), 'the walk gathers every turn, across primaries');
  const cut = chain.length - 2;
  t.equal(await store.delete(chain[cut]!.id), true, 'a record in the middle is deleted');
  t.equal(await store.get(chain[cut]!.id), undefined, 'and is gone');
  t.same(await history.items(head), turns(chain.slice(cut + 1)), 'the walk ends where the deleted record was');
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
