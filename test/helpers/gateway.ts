/**
 * A real listening gateway for end-to-end tests: a config with two providers (`primary`, `secondary`)
 * behind one alias, validated by parseConfig with an empty environment, built by buildApp and bound to
 * 127.0.0.1 on a random port. Close it in t.teardown.
 *
 *   const gw = await startGateway({ primary: mock });            // one route
 *   const gw = await startGateway({ primary: a, secondary: b });  // primary, then fallback to secondary
 *   const gw = await startGateway({ primary: mock, configure: (raw) => { raw.keys.push(…) } });
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import type { Test } from 'tap';
import { startMockUpstream, type MockUpstream } from './mock-upstream.js';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config.js';

export const ALIAS = 'gpt-4.1-nano';
export const PRIMARY_MODEL = 'gpt-4.1-nano';
export const SECONDARY_MODEL = 'openai/gpt-4.1-nano-2025-04-14';
export const PRIMARY_API_KEY = 'sk-upstream-primary-SECRET1234';
export const SECONDARY_API_KEY = 'sk-upstream-secondary-SECRET5678';
/** Sent upstream by the primary provider's `headers` setting. */
export const PRIMARY_EXTRA_HEADERS = { 'X-Provider-Tag': 'tollgate-primary' };

/** The raw (pre-parse) config; loosely typed so tests can mutate any part of it. */
export type RawConfig = {
  server: Record<string, unknown>;
  upstream: Record<string, unknown>;
  providers: Record<string, Record<string, unknown>>;
  models: Record<string, { routes: Array<{ provider: string; model: string }>; [field: string]: unknown }>;
  tiers: Record<string, Record<string, unknown>>;
  keys: Array<Record<string, unknown>>;
  [section: string]: unknown;
};

type Upstream = string | { baseUrl: string };

export interface GatewayOptions {
  /** Mock upstream (or base URL) of the first route. */
  primary: Upstream;
  /** Mock upstream (or base URL) of the fallback route; without it the alias has one route. */
  secondary?: Upstream;
  /** Mutates the raw config before it is validated. */
  configure?: (raw: RawConfig) => void;
  /** Capture log lines (JSON, with the app's own redaction) instead of discarding them. */
  captureLogs?: boolean;
}

/** One JSON log line: pino's message (every line the gateway writes has one), and fields a test checks. */
export interface LogEntry {
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLogs {
  lines: string[];
  entries(): LogEntry[];
  /** Resolves with the first entry, already written or still to come, that matches; `index` is its line number. */
  waitFor(match: (entry: LogEntry, index: number) => boolean, timeoutMs?: number): Promise<LogEntry>;
}

export interface Gateway {
  /** http://127.0.0.1:<port>, without /v1. */
  url: string;
  app: FastifyInstance;
  config: Config;
  /** The static tollgate key named `test`. */
  key: string;
  logs: CapturedLogs;
  /** An SDK client for the gateway (no retries), with the test key unless another is given. */
  client(apiKey?: string): OpenAI;
  close(): Promise<void>;
}

export const randomKey = (label = 'test') => `sk-tg-${label}-${randomBytes(16).toString('hex')}`;
const baseUrlOf = (u: Upstream) => (typeof u === 'string' ? u : u.baseUrl);

export function defaultRawConfig(primary: string, secondary: string | undefined, key: string): RawConfig {
  const routes = [{ provider: 'primary', model: PRIMARY_MODEL }];
  if (secondary) routes.push({ provider: 'secondary', model: SECONDARY_MODEL });
  return {
    server: { host: '127.0.0.1', port: 0, logLevel: 'info' },
    upstream: {},
    providers: {
      primary: { baseUrl: primary, apiKey: PRIMARY_API_KEY, headers: { ...PRIMARY_EXTRA_HEADERS } },
      secondary: { baseUrl: secondary ?? primary, apiKey: SECONDARY_API_KEY },
    },
    models: { [ALIAS]: { routes, pricing: { input: 0.1, cachedInput: 0.025, output: 0.4 } } },
    tiers: {
      free: { rpm: 3, rpd: 200, tpm: 40_000 },
      'tier-1': { rpm: 500, rpd: 10_000, tpm: 200_000 },
      'tier-5': { rpm: 30_000, tpm: 150_000_000 },
    },
    keys: [{ name: 'test', key, tier: 'tier-5' }],
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const key = randomKey();
  const raw = defaultRawConfig(baseUrlOf(options.primary), options.secondary && baseUrlOf(options.secondary), key);
  options.configure?.(raw);
  const config = parseConfig(raw, {});
  const logs = captureLogs();
  const app = await buildApp(config, options.captureLogs ? { logStream: logs.stream } : { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('gateway is not listening on TCP');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    app,
    config,
    key,
    logs,
    client: (apiKey = key) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 }),
    close: async () => {
      const closed = app.close();
      // A client socket that connected but never sent a request counts as active for Node's
      // server.close() until headersTimeout; a test's teardown should not wait for it.
      app.server.closeAllConnections();
      await closed;
    },
  };
}

function captureLogs(): CapturedLogs & { stream: { write(line: string): void } } {
  const lines: string[] = [];
  const emitter = new EventEmitter();
  const entries = () => lines.map((line) => JSON.parse(line) as LogEntry);
  return {
    lines,
    entries,
    stream: {
      write(line: string) {
        lines.push(line);
        emitter.emit('line', JSON.parse(line), lines.length - 1);
      },
    },
    waitFor(match, timeoutMs = 10_000) {
      const found = entries().find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const onLine = (entry: LogEntry, index: number) => {
          if (!match(entry, index)) return;
          clearTimeout(timer);
          emitter.off('line', onLine);
          resolve(entry);
        };
        const timer = setTimeout(() => {
          emitter.off('line', onLine);
          reject(new Error(`no log line matched within ${timeoutMs}ms`));
        }, timeoutMs);
        emitter.on('line', onLine);
      });
    },
  };
}

export interface Fixture {
  primary: MockUpstream;
  /** Present when asked for with `secondary: true`. */
  secondary: MockUpstream | undefined;
  gw: Gateway;
}

/**
 * The usual top of an end-to-end file: mock upstream(s) and a gateway in front, closed when the file's
 * tests end, the mocks reset before each test.
 */
export async function gatewayFixture(
  t: Test,
  options: Omit<GatewayOptions, 'primary' | 'secondary'> & { secondary?: boolean } = {},
): Promise<Fixture> {
  const primary = await startMockUpstream();
  const secondary = options.secondary ? await startMockUpstream() : undefined;
  const gw = await startGateway({ ...options, primary, secondary });
  t.teardown(async () => {
    await gw.close();
    await Promise.all([primary.close(), secondary?.close()]);
  });
  t.beforeEach(() => {
    primary.reset();
    secondary?.reset();
  });
  return { primary, secondary, gw };
}
