/**
 * Liveness (the process answers) and readiness (its dependencies answer, and it is not draining).
 * /readyz says each dependency's state in words (`checks`), and on a 503 why, in one `reason`
 * (docs/contract.md §15).
 */
import type { FastifyPluginAsync } from 'fastify';
import { RedisReachability, type RedisConnection } from '../redis/reachability.js';

export interface HealthRouteOptions {
  /** The request-path Redis connection; null with in-memory stores. */
  redis: RedisConnection | null;
  commandTimeoutMs: number;
  isDraining(): boolean;
}

const NO_REDIS = 'not configured (in-memory stores)';

const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { redis, commandTimeoutMs, isDraining }) => {
  const reachability = redis && new RedisReachability(redis, commandTimeoutMs);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (isDraining()) {
      return reply.code(503).send({ status: 'draining', reason: 'shutting down: finishing in-flight requests' });
    }
    const redisCheck = reachability ? await reachability.check() : { ok: true, words: NO_REDIS };
    const checks = { redis: redisCheck.words };
    if (redisCheck.ok) return { status: 'ready', checks };
    return reply.code(503).send({ status: 'unavailable', reason: `redis: ${redisCheck.words}`, checks });
  });
};

export default healthRoutes;
