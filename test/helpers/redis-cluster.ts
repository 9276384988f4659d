/**
 * A private Redis Cluster for a test file (three primaries, three replicas, own ports, no persistence),
 * with failover() and moveSlot() for the mid-load tests. The starter lives in scripts/redis-cluster.ts
 * because the bench starts the same cluster and must not import from test/.
 *
 *   const cluster = await startRedisCluster();
 *   t.teardown(() => cluster.stop());
 *   // config: { redis: { cluster: { nodes: cluster.nodes } } }
 */
export { type RedisCluster, startRedisCluster } from '../../scripts/redis-cluster.js';
