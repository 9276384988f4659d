/**
 * Usage accounting: `app.usage` records every request's usage and cost (Redis when configured, memory
 * otherwise) and guards monthly budgets. Pending writes are flushed on close.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../src/config.js';
import { MemoryUsageStore } from '../src/usage/memory-usage-store.js';
import { RedisUsageStore } from '../src/usage/redis-usage-store.js';
import { UsageService } from '../src/usage/usage-service.js';
import type { UsageStore } from '../src/usage/usage-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageService;
  }
}

/** How long shutdown waits for pending usage writes. */
const FLUSH_TIMEOUT_MS = 2_000;

const usage: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const store = createStore(app, config);
  app.decorate('usage', new UsageService(store, config.models, app.metrics));
  app.addHook('onClose', async () => {
    // With Redis away the writes wait for a reconnect that may never come; shutdown must not.
    const flushed = await Promise.race([store.flush().then(() => true), delay(FLUSH_TIMEOUT_MS, false)]);
    if (!flushed) app.log.error(`usage writes still pending after ${FLUSH_TIMEOUT_MS} ms at shutdown (Redis unreachable); they are lost`);
    else await store.close();
  });
};

function createStore(app: Parameters<FastifyPluginAsync>[0], config: Config): UsageStore {
  if (!app.redis) return new MemoryUsageStore();
  return new RedisUsageStore(app.redis.writes, {
    keyPrefix: config.redis.keyPrefix,
    retentionDays: config.usage.retentionDays,
    onError: (err) => {
      app.metrics.redisErrors.inc({ component: 'usage' });
      app.log.error({ err }, 'usage write failed');
    },
  });
}

export default fp(usage, { name: 'tollgate-usage', dependencies: ['tollgate-redis', 'tollgate-metrics'] });
