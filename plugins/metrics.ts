/**
 * GET /metrics in Prometheus text format (optionally behind a bearer token) and the per-request
 * counter. Other metrics are observed where the events happen, through `app.metrics`.
 * (docs/contract.md §14.1)
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { invalidApiKey } from '../src/errors.js';
import { GatewayMetrics } from '../src/observability/metrics.js';
import { bearerMatches } from '../src/security/bearer.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics;
  }
  interface FastifyRequest {
    /** The model alias the request asked for, once known (a metrics label). */
    modelAlias: string | null;
  }
}

export interface MetricsOptions {
  /** Empty: /metrics is open (typical inside a cluster network). */
  token: string;
}

const metrics: FastifyPluginAsync<MetricsOptions> = async (app, { token }) => {
  app.decorate('metrics', new GatewayMetrics());
  app.decorateRequest('modelAlias', null);

  app.addHook('onResponse', (request, reply, done) => {
    app.metrics.requests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      model: request.modelAlias ?? '',
      status: String(reply.statusCode),
      tier: request.principal?.tier ?? '',
    });
    done();
  });

  app.get('/metrics', async (request, reply) => {
    if (token && !bearerMatches(request.headers.authorization, token)) {
      throw invalidApiKey('metrics token');
    }
    reply.type(app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });
};

export default fp(metrics, { name: 'tollgate-metrics' });
