/**
 * The demo as one unit: the embedded upstream starts first (its port is known only once it listens),
 * then the gateway is built from config/demo.yaml with the `demo` provider's baseUrl set to that
 * address through TOLLGATE_DEMO_UPSTREAM_URL. src/server.ts, the normal entry point, knows nothing
 * of it; main.ts is the demo's own.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { startDemoUpstream, type DemoUpstreamOptions } from './upstream.js';

/** Relative to the working directory, like config/tollgate.yaml (npm, ./tollgate and the image run from the root). */
export const DEMO_CONFIG_PATH = 'config/demo.yaml';

export interface DemoOptions extends BuildOptions, DemoUpstreamOptions {
  /** Where `${VAR}`s of the config come from (PORT, HOST); process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export interface Demo {
  /** Where clients reach the gateway, e.g. http://127.0.0.1:8080 (without /v1). */
  url: string;
  config: Config;
  app: FastifyInstance;
  /** The gateway first (its in-flight streams still read from the upstream), then the upstream. */
  close(): Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const { env = process.env, wordDelayMs, ...buildOptions } = options;
  const upstream = await startDemoUpstream({ wordDelayMs });
  let app: FastifyInstance | undefined;
  try {
    const config = loadConfig(DEMO_CONFIG_PATH, { ...env, TOLLGATE_DEMO_UPSTREAM_URL: upstream.baseUrl });
    app = await buildApp(config, buildOptions);
    await app.listen({ host: config.server.host, port: config.server.port });
    const gateway = app;
    const close = async () => {
      await gateway.close();
      await upstream.close();
    };
    return { url: clientUrl(gateway, config.server.host), config, app: gateway, close };
  } catch (err) {
    await app?.close();
    await upstream.close();
    throw err;
  }
}

/** A wildcard listen address is no address to send a client to: the machine's own name is. */
function clientUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}
