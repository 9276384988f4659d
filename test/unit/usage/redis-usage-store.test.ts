import t from 'tap';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../../../src/errors.js';
import type { RedisClient } from '../../../src/redis/client.js';
import { RedisUsageStore, WRITES_CLUSTER_OPTIONS } from '../../../src/usage/redis-usage-store.js';
import type { UsageEvent } from '../../../src/usage/usage-store.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';
import { monitored, scriptCalls } from '../../helpers/redis-monitor.js';
import { usageStoreSuite } from './usage-store-suite.js';

const DAY_S = 86_400;
/** What the usage store requires of its client (see redis-usage-store.ts). */
const CLIENT_OPTIONS = { enableOfflineQueue: true, maxRetriesPerRequest: null };

const [server, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
const redis = new Redis(server.url, CLIENT_OPTIONS);
/** The same on a cluster, with its redirection options (redis-usage-store.ts). */
const clusterRedis = new Cluster(cluster.nodes, {
  ...WRITES_CLUSTER_OPTIONS,
  redisOptions: { maxRetriesPerRequest: null },
});
t.teardown(async () => {
  await Promise.all([redis.quit(), clusterRedis.quit()]);
  await Promise.all([server.stop(), cluster.stop()]);
});
/** Where the shared behaviour runs: one redis-server, and a three-primary Redis Cluster. */
const backends: Array<{ name: string; redis: RedisClient }> = [
  { name: 'Redis', redis },
  { name: 'Redis Cluster', redis: clusterRedis },
];

let prefixes = 0;
const freshPrefix = () => `test:${process.pid}:${++prefixes}:`;
const usage = {
  promptTokens: 1000,
  cachedTokens: 200,
  completionTokens: 500,
  reasoningTokens: 0,
  totalTokens: 1500,
  estimated: false,
};
const event = (keyId: string, model: string, at = new Date()): UsageEvent => ({
  keyId,
  model,
  at,
  usage,
  costUsd: 0.000285,
});

for (const backend of backends) {
  t.test(`RedisUsageStore behaviour on ${backend.name}`, async (t) =>
    usageStoreSuite(
      t,
      (retention) =>
        new RedisUsageStore(backend.redis, {
          keyPrefix: freshPrefix(),
          ...retention,
          onError: (err) => t.fail(`unexpected write error: ${err}`),
        }),
    ),
  );
}

t.test('500 events in one event-loop turn are written in one script call', async (t) => {
  const store = new RedisUsageStore(redis, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  const commands = await monitored(redis, async () => {
    for (let i = 0; i < 500; i++) store.record(event(`key_${i % 10}`, `model-${Math.floor(i / 10) % 5}`));
    await store.flush();
  });
  t.equal(scriptCalls(commands), 1, 'one round trip');
  t.match(commands[0]?.args[0], /^eval(sha)?$/i, 'which is all that was sent');
  t.comment(`500 events over 10 keys × 5 models: 1 round trip, ${commands.length - 1} commands run by the script`);
  t.equal((await store.query({ from: today(), to: today() }))[0]?.requests, 500, 'all 500 counted');
});

t.test('2,500 keys in one batch: every one indexed, by one SADD per index and 1,000 members', async (t) => {
  const store = new RedisUsageStore(redis, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  const commands = await monitored(redis, async () => {
    for (let i = 0; i < 2_500; i++) store.record(event(`key_${i}`, 'gpt-nano'));
    await store.flush();
  });
  t.equal(scriptCalls(commands), 1, 'one round trip');
  const sadds = commands.filter(({ args: [name] }) => /^sadd$/i.test(name ?? ''));
  t.same(sadds.map(({ args }) => args.length - 2), [1_000, 1_000, 500, 1_000, 1_000, 500], 'day and hour index');
  const rows = await store.query({ from: today(), to: today(), groupBy: ['key'] });
  t.equal(rows.length, 2_500, 'each key has its row');
  t.ok(rows.every((row) => row.requests === 1), 'each counted once');
});

/** Script calls (EVALSHA, or EVAL after a NOSCRIPT) the cluster's primaries have run so far. */
async function clusterScriptCalls(): Promise<number> {
  let calls = 0;
  for (const node of clusterRedis.nodes('master')) {
    const stats = await node.info('commandstats');
    for (const [, , count] of stats.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) calls += Number(count);
  }
  return calls;
}

t.test('a cluster batch of 2,500 keys on all primaries: one guarded call per slot, counted once', async (t) => {
  const keyPrefix = freshPrefix();
  const store = new RedisUsageStore(clusterRedis, {
    keyPrefix,
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  const at = new Date();
  const keyIds = Array.from({ length: 2_500 }, (_, i) => `key_${i}`);
  const recordAll = () => {
    for (const keyId of keyIds) store.record(event(keyId, 'gpt-nano', at));
  };
  recordAll(); // the first batch also loads the script on every primary (an EVALSHA refused, then an EVAL)
  await store.flush();
  const ports = new Set(await Promise.all(keyIds.map((keyId) => cluster.primaryFor(`{${keyId}}`))));
  t.equal(ports.size, 3, 'the keys live on all three primaries');

  const periods = [utcDayOf(at), at.toISOString().slice(0, 13)];
  const indexKeys = periods.map((period) => `${keyPrefix}usage:index:${period}`);
  const cellSlots = keyIds.map((keyId) => calculateSlot(`{${keyId}}`)); // a key's cells and spend share its tag
  const slots = new Set([...cellSlots, ...indexKeys.map((key) => calculateSlot(key))]);
  const before = await clusterScriptCalls();
  recordAll();
  await store.flush();
  t.equal((await clusterScriptCalls()) - before, slots.size, `one script call per slot: ${slots.size}`);

  const rows = await store.query({ from: utcDayOf(at), to: utcDayOf(at), groupBy: ['key'] });
  t.equal(rows.length, 2_500, 'each key has its row');
  t.ok(rows.every((row) => row.requests === 2 && row.costUsd === 0.00057), 'each event counted once');
  const hourly = await store.query({ from: utcDayOf(at), to: utcDayOf(at), groupBy: ['hour', 'key'] });
  t.ok(hourly.length === 2_500 && hourly.every((row) => row.requests === 2), 'in the hourly cells too');
  const spend = await Promise.all(keyIds.map((keyId) => store.monthlySpendUsd(keyId, utcDayOf(at).slice(0, 7))));
  t.ok(spend.every((usd) => usd === 0.00057), 'and in the spend');
  let guards = 0;
  for (const node of clusterRedis.nodes('master')) guards += (await node.keys(`${keyPrefix}usage:applied:*`)).length;
  t.equal(guards, slots.size, 'a guard in every slot written to');
});

/** 100 events in each of five event-loop turns, then flush. */
async function recordFiveTurnsOf100(store: RedisUsageStore): Promise<void> {
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 100; i++) store.record(event('key_a', 'gpt-nano'));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await store.flush();
}

t.test('with a zero batch window, events in separate turns are separate calls, none lost', async (t) => {
  const store = new RedisUsageStore(redis, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    batchWindowMs: 0,
    onError: (err) => t.fail(String(err)),
  });
  const commands = await monitored(redis, () => recordFiveTurnsOf100(store));
  t.equal(scriptCalls(commands), 5, 'one call per turn');
  t.equal((await store.query({ from: today(), to: today() }))[0]?.requests, 500, 'all 500 counted');
});

t.test('events within the batch window share one call', async (t) => {
  // A window no five turns can outlast, however slow the machine: flush() sends the batch.
  const store = new RedisUsageStore(redis, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    batchWindowMs: 600_000,
    onError: (err) => t.fail(String(err)),
  });
  const commands = await monitored(redis, () => recordFiveTurnsOf100(store));
  t.equal(scriptCalls(commands), 1, 'one call for five turns');
  t.equal((await store.query({ from: today(), to: today() }))[0]?.requests, 500, 'all 500 counted');
});

/** A key's TTL in seconds, with our clock (Unix seconds) just before and after Redis read it. */
async function ttlRead(key: string): Promise<{ ttl: number; before: number; after: number }> {
  const before = Date.now() / 1000;
  const ttl = await redis.ttl(key);
  return { ttl, before, after: Date.now() / 1000 };
}

/** The TTL read is that of a key expiring at `at` (Unix seconds): TTLs are whole seconds, rounded. */
const expiresAt = ({ ttl, before, after }: { ttl: number; before: number; after: number }, at: number) =>
  ttl >= at - after - 1 && ttl <= at - before + 1;

t.test('the key layout and its expiry', async (t) => {
  const keyPrefix = freshPrefix();
  const store = new RedisUsageStore(redis, {
    keyPrefix,
    retentionDays: 30,
    hourlyRetentionDays: 2,
    onError: (err) => t.fail(String(err)),
  });
  const at = new Date();
  store.record(event('key_a', 'gpt-nano', at));
  await store.flush();
  const [day, month, hour] = [today(), today().slice(0, 7), at.toISOString().slice(0, 13)];
  const hash = `${keyPrefix}usage:{key_a}:${day}:gpt-nano`;
  const hourHash = `${keyPrefix}usage:{key_a}:${hour}:gpt-nano`;
  const keys = await redis.keys(`${keyPrefix}*`);
  const applied = keys.find((key) => key.startsWith(`${keyPrefix}usage:applied:`));
  t.same(
    keys.filter((key) => key !== applied).sort(),
    [
      hash,
      hourHash,
      `${keyPrefix}spend:{key_a}:${month}`,
      `${keyPrefix}usage:index:${day}`,
      `${keyPrefix}usage:index:${hour}`,
    ].sort(),
    'five data keys: the day and the hour, each a hash and an index, and the spend',
  );
  t.same(await redis.zrange(applied!, '0', '-1'), ['1'], 'and the batch numbers the store applied: the first');
  t.ok((await redis.pttl(applied!)) > 86_000_000, 'kept for a day after the last write');
  t.same(
    await redis.hgetall(hash),
    { requests: '1', prompt: '1000', cached: '200', completion: '500', cost: '285000' },
    'integer fields, cost in nano-dollars, zeros omitted',
  );
  t.same(await redis.smembers(`${keyPrefix}usage:index:${day}`), ['key_a|gpt-nano'], 'the index member');
  const dayEnd = Date.parse(`${day}T00:00:00Z`) / 1000 + DAY_S;
  t.ok(expiresAt(await ttlRead(hash), dayEnd + 30 * DAY_S), 'the hash expires 30 days after its day ends');
  t.equal(await redis.ttl(`${keyPrefix}usage:index:${day}`), await redis.ttl(hash), 'the index with it');
  t.same(await redis.hgetall(hourHash), await redis.hgetall(hash), 'the hourly hash: the same fields');
  t.same(await redis.smembers(`${keyPrefix}usage:index:${hour}`), ['key_a|gpt-nano'], 'its index member');
  t.ok(expiresAt(await ttlRead(hourHash), dayEnd + 2 * DAY_S), 'the hourly hash expires 2 days after its day ends');
  t.equal(await redis.ttl(`${keyPrefix}usage:index:${hour}`), await redis.ttl(hourHash), 'its index with it');
  const monthEnd = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1) / 1000;
  t.ok(
    expiresAt(await ttlRead(`${keyPrefix}spend:{key_a}:${month}`), monthEnd + 40 * DAY_S),
    'spend: 40 days after the month ends',
  );
});

t.test('events recorded while Redis is down are written once it is back', async (t) => {
  const own = await startRedis({ spawn: true });
  const client = new Redis(own.url, CLIENT_OPTIONS);
  client.on('error', () => {}); // reconnect noise
  t.teardown(async () => {
    client.disconnect();
    await own.stop();
  });
  const store = new RedisUsageStore(client, {
    keyPrefix: 'tg:',
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  if (client.status !== 'ready') await once(client, 'ready');
  const closed = new Promise((resolve) => client.once('close', resolve)); // not once(): it rejects on 'error'
  await own.kill();
  await closed;
  for (let i = 0; i < 50; i++) store.record(event('key_a', 'gpt-nano'));
  await new Promise((resolve) => setTimeout(resolve, 100)); // the batch is now in the offline queue
  await own.restart();
  await store.flush();
  t.equal((await store.query({ from: today(), to: today() }))[0]?.requests, 50, 'all 50, once');
  t.equal(await hourlyRequests(store), 50, 'in the hourly cells too');
});

/**
 * A TCP proxy to Redis that, once armed, lets the next command containing `needle` through but not the
 * reply to it: it cuts the client's connection instead, as a network failure right after Redis ran the
 * command would. Counts the commands containing the needle.
 */
async function replyDroppingProxy(redisPort: number, needle: string) {
  let armed = false;
  let seen = 0;
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    let dropReply = false;
    client.on('data', (chunk) => {
      if (chunk.includes(needle)) {
        seen += 1;
        [dropReply, armed] = [armed, false];
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => (dropReply ? client.destroy() : client.write(chunk)));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    arm: () => (armed = true),
    seen: () => seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

t.test('a batch Redis ran whose reply was lost is resent by ioredis and counted once', async (t) => {
  const proxy = await replyDroppingProxy(server.port, 'usage:applied:');
  const client = new Redis(proxy.port, CLIENT_OPTIONS);
  client.on('error', () => {}); // the cut connection
  t.teardown(async () => {
    client.disconnect();
    await proxy.close();
  });
  const store = new RedisUsageStore(client, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  const requests = async () => (await store.query({ from: today(), to: today() }))[0]?.requests;
  for (let i = 0; i < 10; i++) store.record(event('key_a', 'gpt-nano'));
  await store.flush();
  t.equal(await requests(), 10, 'a first batch, as usual');

  proxy.arm();
  const reconnected = new Promise((resolve) => client.once('close', () => client.once('ready', resolve)));
  for (let i = 0; i < 50; i++) store.record(event('key_a', 'gpt-nano'));
  await store.flush();
  await reconnected;
  t.equal(proxy.seen(), 3, 'the second batch reached Redis twice: sent, then resent after the cut');
  t.equal(await requests(), 60, 'and was counted once');
  t.equal(await hourlyRequests(store), 60, 'in its hourly cell too');

  for (let i = 0; i < 5; i++) store.record(event('key_a', 'gpt-nano'));
  await store.flush();
  t.equal(await requests(), 65, 'later batches count as usual');
  t.equal(await hourlyRequests(store), 65, 'hourly as daily');
});

t.test('an event reporting 1e21 tokens costs no other event of its batch its record', async (t) => {
  const store = new RedisUsageStore(redis, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    onError: (err) => t.fail(String(err)),
  });
  for (let i = 0; i < 90; i++) store.record(event(`key_${i % 9}`, 'gpt-nano'));
  const absurd = {
    promptTokens: 1e21,
    cachedTokens: -5,
    completionTokens: Infinity,
    reasoningTokens: NaN,
    totalTokens: 1e21,
    estimated: false,
  };
  store.record({ ...event('key_absurd', 'gpt-nano'), usage: absurd, costUsd: 1e21 });
  await store.flush();
  const rows = await store.query({ from: today(), to: today(), groupBy: ['key'] });
  const bystanders = rows.filter((row) => row.keyId !== 'key_absurd');
  t.equal(bystanders.reduce((sum, row) => sum + row.requests, 0), 90, 'all 90 bystander records kept');
  t.ok(bystanders.every((row) => row.requests === 10 && row.promptTokens === 10_000), 'with their own counts');
  t.match(
    rows.find((row) => row.keyId === 'key_absurd'),
    { requests: 1, promptTokens: 2 ** 31, cachedTokens: 0, completionTokens: 2 ** 31, reasoningTokens: 0 },
    'the absurd one counted, clamped',
  );
});

for (const { name, redis } of backends) {
  t.test(`a write ${name} refuses costs no other write of the batch`, async (t) => {
    const errors: unknown[] = [];
    const keyPrefix = freshPrefix();
    const store = new RedisUsageStore(redis, { keyPrefix, retentionDays: 400, onError: (err) => errors.push(err) });
    await redis.set(`${keyPrefix}usage:{key_b}:${today()}:gpt-nano`, 'not a hash'); // HINCRBY on it: WRONGTYPE
    for (const keyId of ['key_a', 'key_b', 'key_c']) store.record(event(keyId, 'gpt-nano'));
    await store.flush();
    const rows = await store.query({ from: today(), to: today(), keyIds: ['key_a', 'key_c'], groupBy: ['key'] });
    t.same(
      rows.map((row) => [row.keyId, row.requests]),
      [
        ['key_a', 1],
        ['key_c', 1],
      ],
      'the cells before and after the refused one are written',
    );
    t.equal(await store.monthlySpendUsd('key_c', today().slice(0, 7)), 0.000285, 'and the spend after it');
    t.equal(errors.length, 1, 'the refusal is reported once');
    t.match(String(errors[0]), /refused \d+ usage write\(s\).*WRONGTYPE/, 'naming what Redis said');
  });
}

t.test('a key prefix with braces is refused: it would be the hash tag of every key', async (t) => {
  const options = { keyPrefix: 'tg:{app}:', retentionDays: 400, onError: () => {} };
  t.throws(() => new RedisUsageStore(redis, options), RangeError);
});

t.test('failures go to onError, never to the caller', async (t) => {
  const errors: unknown[] = [];
  const offline = new Redis(server.port, { lazyConnect: true, enableOfflineQueue: false });
  const store = new RedisUsageStore(offline, {
    keyPrefix: freshPrefix(),
    retentionDays: 400,
    onError: (err) => errors.push(err),
  });
  t.doesNotThrow(() => store.record(event('key_a', 'gpt-nano')), 'a write that cannot be sent');
  t.doesNotThrow(() => store.record(event('key_a', 'gpt-nano', new Date(Number.NaN))), 'an event with an invalid date');
  await store.flush();
  t.equal(errors.length, 2, 'both reported');
  t.ok(errors.some((err) => err instanceof RangeError), 'the invalid date as a RangeError');
  offline.disconnect();
});

function today(): string {
  return utcDayOf(new Date());
}

function utcDayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The requests of today's hourly cells, summed. */
async function hourlyRequests(store: RedisUsageStore): Promise<number> {
  const rows = await store.query({ from: today(), to: today(), groupBy: ['hour'] });
  return rows.reduce((sum, row) => sum + row.requests, 0);
}

// Regression: reads went through the write connection, whose offline queue held a budget check,
// /v1/me and /admin/usage until Redis came back.
t.test(
  'reads go through the reads connection and fail at once with StoreUnavailableError while it is down',
  async (t) => {
    const reads = new Redis(server.port, { lazyConnect: true, enableOfflineQueue: false });
    t.teardown(() => reads.disconnect());
    const store = new RedisUsageStore(redis, {
      keyPrefix: freshPrefix(),
      retentionDays: 400,
      reads,
      onError: (err) => t.fail(String(err)),
    });
    store.record(event('key_a', 'gpt-nano'));
    await store.flush();
    const spend = await store.monthlySpendUsd('key_a', today().slice(0, 7)).catch((err: unknown) => err);
    t.type(
      spend,
      StoreUnavailableError,
      'monthlySpendUsd rejects while the reads connection is down (the write connection is up)',
    );
    const rows = await store.query({ from: today(), to: today() }).catch((err: unknown) => err);
    t.type(rows, StoreUnavailableError, 'query rejects too');
    t.equal((rows as StoreUnavailableError).store, 'usage', 'naming the usage store');
    await t.rejects(
      store.query({ from: '2000-01-01', to: today() }),
      RangeError,
      'a range beyond retention is still a RangeError, not an outage',
    );
    if (reads.status !== 'ready') await once(reads, 'ready'); // the first command set it connecting
    t.ok(
      Math.abs((await store.monthlySpendUsd('key_a', today().slice(0, 7))) - 0.000285) < 1e-12,
      'once it is up, the reads see what was written',
    );
  },
);
