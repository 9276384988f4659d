/**
 * Entry point: load the config, build the app, listen, and close gracefully on SIGTERM/SIGINT.
 * Everything else lives in buildApp so tests run the same gateway without a process.
 */
import './node-version.js'; // first: exits with a clear message on a Node.js too old for what follows
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { loadStaticKeys } from './keys/static-keys.js';
import { LogSink } from './log-sink.js';
import { hasCredential } from './upstream/routing.js';

/** stdout, through a sink that a log reader which went away can neither crash nor keep alive. */
const logSink = new LogSink(1);
/** How long the last log lines may take to reach stdout before the process exits regardless. */
const LOG_FLUSH_MS = 2_000;
/**
 * Pending connections the kernel queues before accepting (Node's default is 511): a burst of thousands of
 * clients opening streams at once would otherwise be reset. The kernel caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4_096;

async function main(): Promise<void> {
  const config = loadOrExit();
  const app = await buildApp(config, { logStream: logSink });
  explainSetup(app.log, config);
  await app.listen({ host: config.server.host, port: config.server.port, backlog: LISTEN_BACKLOG });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutDown(app, signal, config.server));
  }
}

/**
 * Graceful shutdown: /readyz turns 503 (still serving for drainDelayMs), then new connections are
 * refused and the process exits as soon as the in-flight requests and streams are done: idle
 * keep-alive sockets are closed at once and every other one when its answer is out (plugins/drain.ts).
 * shutdownGraceMs is only the upper bound: then the remaining connections are cut (their usage is still
 * recorded, as estimated). Pending usage is flushed, Redis and the upstream pools are closed.
 */
async function shutDown(
  app: FastifyInstance,
  signal: string,
  { drainDelayMs, shutdownGraceMs: graceMs }: Config['server'],
): Promise<void> {
  const started = performance.now();
  app.log.info({ signal, drainDelayMs, graceMs }, 'draining: /readyz answers 503; finishing in-flight requests');
  app.draining = true;
  app.server.closeIdleConnections();
  await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
  const deadline = setTimeout(() => {
    app.log.warn('grace period over: closing the remaining connections');
    app.server.closeAllConnections();
  }, graceMs);
  deadline.unref();
  try {
    await app.close();
    app.log.info({ shutdownMs: Math.round(performance.now() - started) }, 'shut down cleanly');
    await exit(0);
  } catch (err) {
    app.log.error({ err }, 'shutdown failed');
    await exit(1);
  }
}

/** The last log lines get a moment to reach stdout; a log reader that is gone or stuck does not hold the exit. */
async function exit(code: number): Promise<never> {
  await logSink.settled(LOG_FLUSH_MS);
  process.exit(code);
}

function loadOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

/** The first log lines tell a newcomer what is missing before the first request fails. */
function explainSetup(
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void },
  config: Config,
): void {
  const withoutKey = Object.entries(config.providers)
    .filter(([, p]) => !hasCredential(p))
    .map(([name]) => name);
  if (withoutKey.length > 0) {
    const stranded = Object.entries(config.models)
      .filter(([, m]) => m.routes.every((r) => withoutKey.includes(r.provider)))
      .map(([alias]) => alias);
    log.warn(
      { providers: withoutKey, modelsWithoutRoute: stranded },
      'providers without an apiKey are skipped in routing (set their env vars, e.g. OPENAI_API_KEY); ' +
        'models without a route left answer 503',
    );
  }
  const { records, skipped } = loadStaticKeys(config.keys);
  if (skipped.length > 0) {
    log.warn({ keys: skipped }, 'static keys without a value were skipped (e.g. set TOLLGATE_DEMO_KEY)');
  }
  log.info(
    {
      staticKeys: records.length,
      models: Object.keys(config.models),
      redis: redisMode(config.redis),
    },
    'tollgate configured',
  );
}

/** Which Redis, in words for the start-up log (no URL: it may carry a password). */
function redisMode(redis: Config['redis']): string {
  if (redis.cluster) return `cluster (${redis.cluster.nodes.length} startup nodes)`;
  return redis.url ? 'configured' : 'none (in-memory stores, single instance)';
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
