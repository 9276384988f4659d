/**
 * buildApp(config): the whole gateway as a Fastify instance that does not listen yet. Registers, in
 * order: error rendering, logging, health, then the /v1 API behind authentication.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { randomBytes } from 'node:crypto';
import authPlugin from '../plugins/auth.js';
import type { Config } from './config.js';
import { notFound, renderError } from './errors.js';
import { StaticKeyStore } from './keys/key-store.js';
import { loadStaticKeys } from './keys/static-keys.js';
import { loggerOptions } from './logging.js';
import healthRoutes from './routes/health.js';
import modelRoutes from './routes/models.js';
import proxyRoutes from './routes/proxy.js';
import { UpstreamPools } from './upstream/pools.js';
import { ModelRouter } from './upstream/routing.js';

export interface BuildOptions {
  /** Overrides the pino logger settings (tests pass `false` or a destination stream). */
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
  interface FastifyRequest {
    /** Set by routes that log their own completion line (with usage), so onResponse does not. */
    selfLogged: boolean;
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.server.logLevel),
    bodyLimit: config.server.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }), // our own one line per request
    requestIdHeader: false, // never trust a client-chosen id in our logs
    genReqId: () => `req_${randomBytes(12).toString('hex')}`,
    return503OnClosing: true,
  });
  app.decorate('config', config);
  app.decorateRequest('selfLogged', false);
  registerErrorRendering(app, config);
  registerRequestLog(app);
  acceptJsonWithoutContentType(app);

  const pools = new UpstreamPools(config.upstream);
  const router = new ModelRouter(config);
  const keyStore = new StaticKeyStore(loadStaticKeys(config.keys).records);
  app.addHook('onClose', async () => {
    await Promise.all([pools.close(), keyStore.close()]);
  });

  await app.register(healthRoutes, { checkDependencies: async () => {}, isDraining: () => false });
  await app.register(
    async (v1) => {
      await v1.register(authPlugin, { keyStore });
      await v1.register(modelRoutes, { router, created: Math.floor(Date.now() / 1000) });
      await v1.register(proxyRoutes, { router, pools });
    },
    { prefix: '/v1' },
  );
  return app;
}

function registerErrorRendering(app: FastifyInstance, config: Config): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body, headers } = renderError(err, config.server.bodyLimitBytes);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = notFound(request.method, request.url);
    return reply.code(err.status).send(err.toBody());
  });
}

/** One line per request; proxied requests write a richer line themselves (with usage). */
function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.selfLogged) return;
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, totalMs: Math.round(reply.elapsedTime), keyName: request.principal?.name },
      'request completed',
    );
  });
}

/** `curl -d` sends form encoding by default; the API only speaks JSON, so parse any body as JSON. */
function acceptJsonWithoutContentType(app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
}
