/**
 * Usage accounting: `app.usage` records every request's usage and cost (Redis when configured, memory
 * otherwise) and guards monthly budgets. Pending writes are flushed on close. Writes go through the
 * queuing Redis connection (no usage lost in a blip), reads through the fail-fast one (nothing waits
 * for a dead Redis). A budget check Redis cannot answer counts in
 * tollgate_redis_errors_total{component="budget"}; a warning says so at most every 10 s.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../src/config.js';
import { MemoryUsageStore } from '../src/usage/memory-usage-store.js';
import { RedisUsageStore } from '../src/usage/redis-usage-store.js';
import { ThrottledNotice } from '../src/observability/throttled-notice.js';
import { UsageService, type BudgetFallback } from '../src/usage/usage-service.js';
import type { UsageStore } from '../src/usage/usage-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageService;
  }
}

/** How long shutdown waits for pending usage writes. */
const FLUSH_TIMEOUT_MS = 2_000;
const NOTICE_INTERVAL_MS = 10_000;

const usage: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const store = createStore(app, config);
  const message = budgetFallbackMessage(config.redis.failMode);
  const notice = new ThrottledNotice<{ err: unknown; fallback: BudgetFallback }>(
    NOTICE_INTERVAL_MS,
    ({ err, fallback }, failures) => app.log.warn({ err: (err as Error).message, failures, ...fallback }, message),
  );
  const service = new UsageService(store, config.models, {
    failMode: config.redis.failMode,
    onRecorded: (model, recorded, costUsd) => app.metrics.recordUsage(model, recorded, costUsd),
    onBudgetExceeded: () => app.metrics.rateLimited.inc({ dimension: 'budget' }),
    onBudgetFallback: (err, fallback) => {
      app.metrics.redisErrors.inc({ component: 'budget' });
      notice.note({ err, fallback });
    },
  });
  app.decorate('usage', service);
  app.addHook('onClose', async () => {
    // With Redis away the writes wait for a reconnect that may never come; shutdown must not.
    const flushed = await Promise.race([store.flush().then(() => true), delay(FLUSH_TIMEOUT_MS, false)]);
    if (!flushed) {
      app.log.error(
        `usage writes still pending after ${FLUSH_TIMEOUT_MS} ms at shutdown (Redis unreachable); they are lost`,
      );
    } else await store.close();
  });
};

function createStore(app: Parameters<FastifyPluginAsync>[0], config: Config): UsageStore {
  const { retentionDays, hourlyRetentionDays } = config.usage;
  if (!app.redis) return new MemoryUsageStore({ retentionDays, hourlyRetentionDays });
  return new RedisUsageStore(app.redis.writes, {
    reads: app.redis.commands,
    keyPrefix: config.redis.keyPrefix,
    retentionDays,
    hourlyRetentionDays,
    onError: (err) => {
      app.metrics.redisErrors.inc({ component: 'usage' });
      app.log.error({ err }, 'usage write failed');
    },
  });
}

function budgetFallbackMessage(failMode: 'open' | 'closed'): string {
  if (failMode === 'closed') return 'redis unavailable: budgeted keys get 503 until it answers (failMode=closed)';
  return (
    'redis unavailable: budgets are checked against the last spend this instance read plus its own spending since;' +
    ' a key it never read starts from zero (failMode=open)'
  );
}

export default fp(usage, { name: 'tollgate-usage', dependencies: ['tollgate-redis', 'tollgate-metrics'] });
