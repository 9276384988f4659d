/**
 * The Redis connections, when `redis.url` is set (`app.redis` is null otherwise: memory stores).
 * - `commands`: request-path calls (limits, key lookups, budget checks, usage and admin reads). Fails
 *   fast while Redis is away so a request never hangs on it (see src/limits/redis-client.ts).
 * - `writes`: usage writes. Queues while disconnected and sends on reconnect, so a Redis blip loses
 *   no usage; nothing on the request path waits for it.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Config } from '../src/config.js';
import { createLimiterRedis } from '../src/limits/redis-client.js';
import { ThrottledNotice } from '../src/observability/throttled-notice.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: { commands: Redis; writes: Redis } | null;
  }
}

/** How long start-up waits for Redis before serving anyway (fail-open) or failing (fail-closed). */
const READY_TIMEOUT_MS = 3_000;
const QUIT_TIMEOUT_MS = 1_000;
/** One warning per this interval per connection while Redis is away, not one per reconnect attempt. */
const ERROR_LOG_INTERVAL_MS = 10_000;

const redis: FastifyPluginAsync<{ config: Config['redis'] }> = async (app, { config }) => {
  if (!config.url) {
    app.decorate('redis', null);
    return;
  }
  const commands = createLimiterRedis(config.url, config.commandTimeoutMs);
  const writes = new Redis(config.url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  for (const [name, client] of [['commands', commands], ['writes', writes]] as const) {
    const notice = new ThrottledNotice<Error>(ERROR_LOG_INTERVAL_MS, (err, errors) =>
      app.log.warn({ connection: name, err: err.message, errors }, 'redis connection error; reconnecting'),
    );
    client.on('error', (err) => notice.note(err));
  }
  app.decorate('redis', { commands, writes });
  app.addHook('onClose', async () => {
    await Promise.all([commands, writes].map(close));
  });
  await waitUntilReady(app, commands, config.failMode);
};

/** quit() waits for pending replies; a Redis that is away never sends them, so cut it instead. */
async function close(client: Redis): Promise<void> {
  if (client.status === 'ready') await Promise.race([client.quit().catch(() => undefined), delay(QUIT_TIMEOUT_MS)]);
  client.disconnect();
}

async function waitUntilReady(
  app: Parameters<FastifyPluginAsync>[0],
  client: Redis,
  failMode: 'open' | 'closed',
): Promise<void> {
  if (client.status === 'ready') return;
  try {
    await once(client, 'ready', { signal: AbortSignal.timeout(READY_TIMEOUT_MS) });
  } catch {
    const message =
      `redis not reachable after ${READY_TIMEOUT_MS} ms; serving with failMode=${failMode} until it answers`;
    app.log.warn(message);
  }
}

export default fp(redis, { name: 'tollgate-redis' });
