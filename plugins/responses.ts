/**
 * The stored-response records as `app.responses` (src/responses/): on Redis when `redis.url` or
 * `redis.cluster` is set, shared by every instance, else in this process (bounded, see
 * memory-response-store.ts). A call Redis could not answer rejects (a 503 response_store_unavailable to
 * the client), counts in tollgate_redis_errors_total{component="responses"}, and a warning says so at
 * most every 10 s.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';
import { ThrottledNotice } from '../src/observability/throttled-notice.js';
import { MemoryResponseStore } from '../src/responses/memory-response-store.js';
import { RedisResponseStore } from '../src/responses/redis-response-store.js';
import type { ResponseStore } from '../src/responses/stored-response.js';

declare module 'fastify' {
  interface FastifyInstance {
    responses: ResponseStore;
  }
}

const NOTICE_INTERVAL_MS = 10_000;

const responses: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const store = createStore(app, config);
  app.decorate('responses', store);
  app.addHook('onClose', () => store.close());
};

function createStore(app: Parameters<FastifyPluginAsync>[0], config: Config): ResponseStore {
  const { retentionDays } = config.responses;
  if (!app.redis) return new MemoryResponseStore({ retentionDays });
  const notice = new ThrottledNotice<unknown>(NOTICE_INTERVAL_MS, (err, failures) =>
    app.log.warn({ err: (err as Error).message, failures }, 'redis unavailable: stored responses answer 503'),
  );
  return new RedisResponseStore(app.redis.commands, {
    keyPrefix: config.redis.keyPrefix,
    retentionDays,
    onError: (err) => {
      app.metrics.redisErrors.inc({ component: 'responses' });
      notice.note(err);
    },
  });
}

export default fp(responses, { name: 'tollgate-responses', dependencies: ['tollgate-redis', 'tollgate-metrics'] });
