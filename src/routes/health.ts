/** Liveness (the process answers) and readiness (its dependencies answer, and it is not draining). */
import type { FastifyPluginAsync } from 'fastify';

export interface HealthRouteOptions {
  /** Resolves when every configured dependency answers; rejects with the reason otherwise. */
  checkDependencies(): Promise<void>;
  isDraining(): boolean;
}

const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { checkDependencies, isDraining }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'draining' });
    try {
      await checkDependencies();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', reason: (err as Error).message });
    }
  });
};

export default healthRoutes;
