// Self-test for the cluster harness: it comes up with three primaries serving every slot, failover()
// promotes the replica, and moveSlot() takes the slot's keys along.
import t from 'tap';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());
const client = new Cluster(cluster.nodes.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })));
t.teardown(() => client.quit());
const primaries = () => cluster.nodes.map((url) => Number(new URL(url).port));

/** Keys tagged so that each lands on a different one of the three primaries. */
async function keyPerPrimary(): Promise<Map<number, string>> {
  const byPort = new Map<number, string>();
  for (let i = 0; byPort.size < 3; i++) {
    const key = `{subject-${i}}:value`;
    const port = await cluster.primaryFor(key);
    if (!byPort.has(port)) byPort.set(port, key);
  }
  return byPort;
}

t.test('three primaries and three replicas serve every slot', async (t) => {
  t.equal(cluster.nodes.length, 3);
  t.equal(new Set(cluster.ports).size, 6);
  const keys = await keyPerPrimary();
  t.same([...keys.keys()].sort(), primaries().sort(), 'every primary serves some keys');
  for (const key of keys.values()) await client.set(key, key);
  for (const key of keys.values()) t.equal(await client.get(key), key);
});

t.test('failover() promotes the replica and keeps the data', async (t) => {
  const key = '{failover}:value';
  await client.set(key, 'kept');
  const before = await cluster.primaryFor(key);
  await cluster.failover(before);
  const after = await cluster.primaryFor(key);
  t.not(after, before, 'another node serves the slot');
  t.notOk(primaries().includes(after), 'the promoted node was a replica');
  const direct = new Redis(after, '127.0.0.1');
  t.teardown(() => direct.quit());
  t.equal(await direct.get(key), 'kept', 'the promoted replica has the key');
  t.equal(await client.get(key), 'kept', 'the cluster client follows the new primary');
});

t.test('moveSlot() moves the slot with its keys', async (t) => {
  const keys = ['{moved}:a', '{moved}:b', '{moved}:c'];
  for (const key of keys) await client.set(key, key);
  const from = await cluster.primaryFor(keys[0]!);
  const target = [...(await keyPerPrimary()).keys()].find((port) => port !== from)!; // primaries now, after failover
  await cluster.moveSlot(calculateSlot(keys[0]!), target);
  t.equal(await cluster.primaryFor(keys[0]!), target, 'the target serves the slot');
  const direct = new Redis(target, '127.0.0.1');
  t.teardown(() => direct.quit());
  t.same(await direct.mget(...keys), keys, 'the keys live on the target');
  t.same(await Promise.all(keys.map((key) => client.get(key))), keys, 'the cluster client follows MOVED');
});

t.test('flushAll() empties every primary', async (t) => {
  await cluster.flushAll();
  const keys = await keyPerPrimary();
  t.same(await Promise.all([...keys.values()].map((key) => client.get(key))), [null, null, null]);
});
