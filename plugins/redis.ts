/**
 * The Redis connections, when `redis.url` or `redis.cluster` is set (`app.redis` is null otherwise: memory
 * stores). On a cluster both are ioredis Cluster clients: one connection per node each.
 * - `commands`: request-path calls (limits, key lookups, budget checks, usage and admin reads). Fails
 *   fast while Redis is away so a request never hangs on it (see src/limits/redis-client.ts).
 * - `writes`: usage writes. Queues while disconnected and sends on reconnect, so a Redis blip loses
 *   no usage; nothing on the request path waits for it.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { setTimeout as delay } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import type { Config } from '../src/config.js';
import { createLimiterRedis, nodeCredentials } from '../src/limits/redis-client.js';
import type { RedisClient } from '../src/redis/client.js';
import { untilReady } from '../src/redis/ready.js';
import { ThrottledNotice } from '../src/observability/throttled-notice.js';
import { WRITES_CLUSTER_OPTIONS } from '../src/usage/redis-usage-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: { commands: RedisClient; writes: RedisClient } | null;
  }
}

/** How long start-up waits for Redis before serving anyway (fail-open) or failing (fail-closed). */
const READY_TIMEOUT_MS = 3_000;
const QUIT_TIMEOUT_MS = 1_000;
/** One warning per this interval per connection while Redis is away, not one per reconnect attempt. */
const ERROR_LOG_INTERVAL_MS = 10_000;

const redis: FastifyPluginAsync<{ config: Config['redis'] }> = async (app, { config }) => {
  const target = config.cluster?.nodes ?? config.url;
  if (target.length === 0) {
    app.decorate('redis', null);
    return;
  }
  const commands = createLimiterRedis(target, config.commandTimeoutMs);
  const writes = createWritesRedis(target);
  for (const [name, client] of [['commands', commands], ['writes', writes]] as const) {
    const notice = new ThrottledNotice<Error>(ERROR_LOG_INTERVAL_MS, (err, errors) =>
      app.log.warn({ connection: name, err: err.message, errors }, 'redis connection error; reconnecting'),
    );
    client.on('error', (err: Error) => notice.note(err));
    client.on('node error', (err: Error) => notice.note(err)); // a cluster's: one of its nodes
  }
  app.decorate('redis', { commands, writes });
  app.addHook('onClose', async () => {
    await Promise.all([commands, writes].map(close));
  });
  await waitUntilReady(app, commands, config.failMode);
};

/** Queues while disconnected and retries: a usage write waits for Redis rather than being lost. */
function createWritesRedis(target: string | string[]): RedisClient {
  if (typeof target === 'string') return new Redis(target, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  // Follows redirections and retries long enough to outlast a failover or a slot migration (the store says why).
  return new Cluster(target, {
    ...WRITES_CLUSTER_OPTIONS,
    redisOptions: { ...nodeCredentials(target[0]!), maxRetriesPerRequest: null },
  });
}

/** quit() waits for pending replies; a Redis that is away never sends them, so cut it instead. */
async function close(client: RedisClient): Promise<void> {
  if (client.status === 'ready') await Promise.race([client.quit().catch(() => undefined), delay(QUIT_TIMEOUT_MS)]);
  client.disconnect();
}

async function waitUntilReady(
  app: Parameters<FastifyPluginAsync>[0],
  client: RedisClient,
  failMode: 'open' | 'closed',
): Promise<void> {
  try {
    await untilReady(client, AbortSignal.timeout(READY_TIMEOUT_MS));
  } catch {
    const message =
      `redis not reachable after ${READY_TIMEOUT_MS} ms; serving with failMode=${failMode} until it answers`;
    app.log.warn(message);
  }
}

export default fp(redis, { name: 'tollgate-redis' });
