// The fail-fast Cluster client (createLimiterRedis) becomes ready at its first attempt, including when a
// failover has promoted a replica that is not among the startup nodes: the gateway's config keeps naming
// the old primaries. Its eager node connections once raced ioredis' ready check, which refused a node
// still connecting and reconnected the whole client, over and over.
import t, { type Test } from 'tap';
import type { Cluster } from 'ioredis';
import { createLimiterRedis } from '../../../src/limits/redis-client.js';
import { untilReady } from '../../../src/redis/ready.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());

/** Enough clients that a race lost a third of the time or more shows (it lost every few before the fix). */
const CLIENTS = 20;

/** Connects a client and resolves with how often it closed (a failed ready check) before it was ready. */
async function closesBeforeReady(): Promise<number> {
  const client = createLimiterRedis(cluster.nodes, 10_000) as Cluster;
  client.on('error', () => {});
  let closes = 0;
  client.on('close', () => closes++);
  try {
    await untilReady(client);
    return closes;
  } finally {
    client.disconnect();
  }
}

async function assertReadyAtOnce(t: Test): Promise<void> {
  const closes: number[] = [];
  for (let i = 0; i < CLIENTS; i++) closes.push(await closesBeforeReady());
  t.same(closes, closes.map(() => 0), `${CLIENTS} clients, each ready without reconnecting`);
}

t.test('on a fresh cluster', (t) => assertReadyAtOnce(t));

t.test('after a failover, the startup nodes naming a replica and not the new primary', async (t) => {
  await cluster.failover(await cluster.primaryFor('any'));
  await assertReadyAtOnce(t);
});
