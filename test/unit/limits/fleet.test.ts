import { once } from 'node:events';
import t from 'tap';
import { FleetPresence, LIVE_WINDOW_MS } from '../../../src/limits/fleet.js';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

const KEY = 'fl:rl:{fleet}:instances';

/** A fail-fast client on its own Redis server, both gone when `test` ends. */
async function connected(test: Pick<typeof t, 'teardown'>, server: RedisServer, commandTimeoutMs: number) {
  const client = createLimiterRedis(server.url, commandTimeoutMs);
  client.on('error', () => {});
  await once(client, 'ready');
  test.teardown(async () => {
    client.disconnect();
    await server.stop();
  });
  return client;
}

const redis = await connected(t, await startRedis(), 500);

t.test('instances sharing a Redis count each other, and one that leaves stops counting', async (t) => {
  await redis.del(KEY);
  const seen: number[] = [];
  const a = new FleetPresence(redis, 'fl:', { onChange: (n) => seen.push(n) });
  const b = new FleetPresence(redis, 'fl:');
  t.equal(a.instances, 1, 'before any beat an instance knows only of itself');
  await a.beat();
  await b.beat();
  await a.beat();
  t.equal(a.instances, 2, 'two live instances');
  t.same(seen, [1, 2], 'each new count is reported once');
  await b.close();
  await a.beat();
  t.equal(a.instances, 1, 'a cleanly stopped instance leaves the set at once');
  t.ok((await redis.pttl(KEY)) <= LIVE_WINDOW_MS, 'the set expires when every instance is gone');
  await a.close();
});

t.test('an instance that died without leaving ages out after the live window', async (t) => {
  await redis.del(KEY);
  const [seconds] = await redis.time();
  await redis.zadd(KEY, String(Number(seconds) * 1_000 - LIVE_WINDOW_MS - 1_000), 'crashed-instance');
  const a = new FleetPresence(redis, 'fl:');
  await a.beat();
  t.equal(a.instances, 1, 'a member last seen before the window is not counted');
  t.same(await redis.zrange(KEY, '0', '-1'), [a.id], 'and is dropped from the set');
  await a.close();
});

t.test('a failed beat keeps the last count seen', async (t) => {
  const own = await startRedis({ spawn: true });
  const client = await connected(t, own, 200);
  const a = new FleetPresence(client, 'fl:');
  const b = new FleetPresence(client, 'fl:');
  await b.beat();
  await a.beat();
  await own.kill();
  await a.beat();
  t.equal(a.instances, 2, 'Redis gone: the fleet is still taken to be two');
  await a.close();
});
