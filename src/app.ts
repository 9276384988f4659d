/**
 * buildApp(config): the whole gateway as a Fastify instance that does not listen yet. Registers, in
 * order: error rendering, the request log and body parsing, the shared services (metrics, Redis, keys,
 * limits, usage, upstream, stored responses), health, the /v1 API behind authentication, and the admin
 * API and its dashboard when a token is configured.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import adminAuthPlugin from '../plugins/admin-auth.js';
import authPlugin from '../plugins/auth.js';
import bodyPlugin from '../plugins/body.js';
import dashboardPlugin from '../plugins/dashboard.js';
import drainPlugin from '../plugins/drain.js';
import errorsPlugin from '../plugins/errors.js';
import keysPlugin from '../plugins/keys.js';
import limitsPlugin from '../plugins/limits.js';
import metricsPlugin from '../plugins/metrics.js';
import redisPlugin from '../plugins/redis.js';
import requestLogPlugin from '../plugins/request-log.js';
import responsesPlugin from '../plugins/responses.js';
import upstreamPlugin from '../plugins/upstream.js';
import usagePlugin from '../plugins/usage.js';
import type { Config } from './config.js';
import { childLoggerFactory, loggerOptions } from './logging.js';
import { requestIdGenerator } from './request-id.js';
import adminRoutes from './routes/admin.js';
import adminStatsRoutes from './routes/admin-stats.js';
import healthRoutes from './routes/health.js';
import meRoutes from './routes/me.js';
import modelRoutes from './routes/models.js';
import proxyRoutes from './routes/proxy.js';
import responsesResourceRoutes from './routes/responses-resources.js';
import { SecretRedactor } from './upstream/secret-redactor.js';

export interface BuildOptions {
  /** Where log lines go (stdout by default); they are redacted the same wherever they go. */
  logStream?: DestinationStream;
  /** `false` turns logging off (tests that do not read logs). */
  logger?: false;
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const providerKeys = SecretRedactor.fromConfig(config);
  const app = Fastify({
    logger: options.logger ?? { ...loggerOptions(config.server.logLevel, providerKeys), stream: options.logStream },
    bodyLimit: config.server.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }), // our own one line per request
    childLoggerFactory: childLoggerFactory(config.server.logLevel),
    requestIdHeader: false, // never trust a client-chosen id in our logs
    genReqId: requestIdGenerator(),
    trustProxy: config.server.trustProxy, // the client address behind a load balancer (src/trust-proxy.ts)
    // While closing, requests on open connections are still served (they are in-flight work);
    // /readyz reports draining so load balancers move away.
    return503OnClosing: false,
  });
  await app.register(errorsPlugin);
  await app.register(requestLogPlugin);
  await app.register(bodyPlugin);
  await app.register(drainPlugin);
  await registerServices(app, config, providerKeys);

  const health = { redis: app.redis?.commands ?? null, commandTimeoutMs: config.redis.commandTimeoutMs };
  await app.register(healthRoutes, { ...health, isDraining: () => app.draining });
  await app.register((v1) => registerApi(v1, app, config), { prefix: '/v1' });
  if (config.admin.token) {
    await app.register((admin) => registerAdmin(admin, app, config), { prefix: '/admin' });
    await app.register(dashboardPlugin); // its pages call the admin API, so it exists only beside it
  }
  return app;
}

/** What every request shares: metrics, Redis, key store, limits, usage, the upstream side, stored responses. */
async function registerServices(app: FastifyInstance, config: Config, providerKeys: SecretRedactor): Promise<void> {
  await app.register(metricsPlugin, { token: config.metrics.token });
  await app.register(redisPlugin, { config: config.redis });
  await app.register(keysPlugin, { config });
  await app.register(limitsPlugin, { config });
  await app.register(usagePlugin, { config });
  await app.register(upstreamPlugin, { config, providerKeys });
  await app.register(responsesPlugin, { config });
}

/** /v1, behind the client's key: models, the proxied APIs (one Exchange per request), Responses sub-resources, me. */
async function registerApi(v1: FastifyInstance, app: FastifyInstance, config: Config): Promise<void> {
  await v1.register(authPlugin, { keyStore: app.keys });
  const { router, ...upstream } = app.upstream;
  await v1.register(modelRoutes, { router, created: Math.floor(Date.now() / 1000) });
  const { admission, usage, metrics } = app;
  const responses = app.responses;
  const services = { admission, usage, metrics, router, upstream, responses, now: () => performance.now() };
  await v1.register(proxyRoutes, { services });
  const resources = { store: app.responses, admission, upstream, providers: config.providers, models: config.models };
  await v1.register(responsesResourceRoutes, { services: resources });
  await v1.register(meRoutes, { config });
}

/** /admin, behind the admin token. */
async function registerAdmin(admin: FastifyInstance, app: FastifyInstance, config: Config): Promise<void> {
  await admin.register(adminAuthPlugin, { token: config.admin.token, perIpGuard: app.perIpGuard });
  const tiers = Object.keys(config.tiers);
  const models = Object.keys(config.models);
  await admin.register(adminRoutes, { keys: app.keys, usage: app.usage.store, tiers, models });
  await admin.register(adminStatsRoutes, { metrics: app.metrics });
}
