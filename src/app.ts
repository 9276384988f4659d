/**
 * buildApp(config): the whole gateway as a Fastify instance that does not listen yet. Registers, in
 * order: error rendering and logging, the shared services (metrics, Redis, keys, limits, usage),
 * health, the /v1 API behind authentication, and the admin API when a token is configured.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import authPlugin from '../plugins/auth.js';
import drainPlugin from '../plugins/drain.js';
import keysPlugin from '../plugins/keys.js';
import limitsPlugin from '../plugins/limits.js';
import metricsPlugin from '../plugins/metrics.js';
import redisPlugin from '../plugins/redis.js';
import usagePlugin from '../plugins/usage.js';
import type { Config } from './config.js';
import { installErrorRendering } from '../plugins/errors.js';
import { parseBodiesAsJson } from '../plugins/body.js';
import { loggerOptions } from './logging.js';
import { requestIdGenerator } from './request-id.js';
import adminRoutes from './routes/admin.js';
import healthRoutes from './routes/health.js';
import meRoutes from './routes/me.js';
import modelRoutes from './routes/models.js';
import proxyRoutes from './routes/proxy.js';
import { AnswerBuffers } from './upstream/answer-body.js';
import { UpstreamPools } from './upstream/pools.js';
import { ModelRouter } from './upstream/routing.js';
import { SecretRedactor } from './upstream/secret-redactor.js';

export interface BuildOptions {
  /** Where log lines go (stdout by default); they are redacted the same wherever they go. */
  logStream?: DestinationStream;
  /** `false` turns logging off (tests that do not read logs). */
  logger?: false;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** Set on SIGTERM: /readyz turns 503 so load balancers stop sending new requests. */
    draining: boolean;
  }
  interface FastifyRequest {
    /** Set by routes that log their own completion line (with usage), so onResponse does not. */
    selfLogged: boolean;
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const providerKeys = SecretRedactor.fromConfig(config);
  const app = Fastify({
    logger: options.logger ?? { ...loggerOptions(config.server.logLevel, providerKeys), stream: options.logStream },
    bodyLimit: config.server.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }), // our own one line per request
    requestIdHeader: false, // never trust a client-chosen id in our logs
    genReqId: requestIdGenerator(),
    trustProxy: config.server.trustProxy, // the client address behind a load balancer (src/trust-proxy.ts)
    // While closing, requests on open connections are still served (they are in-flight work);
    // /readyz reports draining so load balancers move away.
    return503OnClosing: false,
  });
  app.decorate('config', config);
  app.decorate('draining', false);
  app.decorateRequest('selfLogged', false);
  installErrorRendering(app, config.server.bodyLimitBytes);
  registerRequestLog(app);
  parseBodiesAsJson(app);
  await app.register(drainPlugin);

  await app.register(metricsPlugin, { token: config.metrics.token });
  await app.register(redisPlugin, { config: config.redis });
  await app.register(keysPlugin, { config });
  await app.register(limitsPlugin, { config });
  await app.register(usagePlugin, { config });

  const pools = new UpstreamPools(config.upstream);
  const router = new ModelRouter(config);
  app.addHook('onClose', () => pools.close());

  await app.register(healthRoutes, { checkDependencies: () => pingRedis(app), isDraining: () => app.draining });
  await app.register(
    async (v1) => {
      await v1.register(authPlugin, { keyStore: app.keys });
      await v1.register(modelRoutes, { router, created: Math.floor(Date.now() / 1000) });
      const answers = new AnswerBuffers(config.upstream.maxBufferedAnswerBytes, config.upstream.maxBufferedAnswersTotalBytes);
      await v1.register(proxyRoutes, { router, pools, providerKeys, answers });
      await v1.register(meRoutes, { config });
    },
    { prefix: '/v1' },
  );
  if (config.admin.token) {
    await app.register(adminRoutes, {
      prefix: '/admin',
      token: config.admin.token,
      keys: app.keys,
      usage: app.usage.store,
      tiers: Object.keys(config.tiers),
      models: Object.keys(config.models),
      perIpGuard: app.perIpGuard,
    });
  }
  return app;
}

async function pingRedis(app: FastifyInstance): Promise<void> {
  if (app.redis) await app.redis.commands.ping();
}

/**
 * One line per request; proxied requests write a richer line themselves (with usage). Every answer
 * carries an x-request-id (the upstream's on proxied answers, the gateway's own otherwise).
 */
function registerRequestLog(app: FastifyInstance): void {
  // Set first; a proxied answer replaces it with the upstream's id. Callback-style hooks: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.selfLogged) return done();
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, totalMs: Math.round(reply.elapsedTime), keyName: request.principal?.name },
      'request completed',
    );
    done();
  });
}
