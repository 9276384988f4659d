/**
 * Waiting for a Redis connection to serve: 'ready' on one server; on a cluster, 'ready' (the slot map is
 * known and CLUSTER INFO says ok) and then every primary's own connection, which the fail-fast client
 * opens as soon as the map names it (src/limits/redis-client.ts) but which may still be connecting.
 */
import { once } from 'node:events';
import { Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

export async function untilReady(client: RedisClient, signal?: AbortSignal): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready', { signal });
  if (!(client instanceof Cluster)) return;
  const connecting = client.nodes('master').filter((node) => node.status !== 'ready');
  await Promise.all(connecting.map((node) => once(node, 'ready', { signal })));
}
