/**
 * The key names under a prefix, on one server or on a whole Redis Cluster. KEYS answers for its own node
 * only, so on a cluster every primary is asked (replicas hold copies of the same keys).
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../src/redis/client.js';

export async function keysUnder(client: RedisClient, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const perNode = await Promise.all(nodes.map((node) => node.keys(`${prefix}*`)));
  return perNode.flat().sort();
}
