/**
 * tollgate as a bench target: buildApp() with the mock (origin in argv[2]) as two providers, one static
 * key on a tier with limits far above anything the bench can reach. `mock` serves both APIs (alias
 * BENCH_MODEL); `mock-chat` is the same server declared `endpoints: [chat]`, so Responses requests
 * to its alias (BENCH_BRIDGED_MODEL) are bridged over chat (bridge.ts).
 *  - BENCH_LIMITS (default `on`): `on` sets all four windows (rpm, rpd, tpm, tpd), the limiter's worst
 *    case; `off` gives the tier no limits at all (`{}`), so admission makes no limiter call. Usage
 *    recording stays on either way: the difference between the two is the rate limiter's cost.
 *  - BENCH_LOG_LEVEL (default `silent`): any other level logs through pino to /dev/null, which
 *    measures the cost of the request log line without the cost of a terminal.
 *  - BENCH_REDIS_URL: passed as `redis: { url }`: limits and usage on Redis.
 *  - BENCH_REDIS_CLUSTER_NODES: comma-separated node URLs, passed as `redis: { cluster: { nodes } }`
 *    instead: limits and usage on a Redis Cluster (cluster.ts).
 *  - BENCH_KEYS (default 0): that many more keys (common.ts spreadKey(0…n-1)) on the same tier, for
 *    the load spread over many keys.
 * The upstream section is left at its defaults (connectionsPerOrigin included): the slow-streams run
 * measures the default config. The side channel (probe.ts) reports heap after GC and loop blocks.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
// The compiled build (`npm run bench` builds first), as production runs it: tsx's transform of src/
// adds a __name() call to every closure created on the hot path. Typed by the sources it is built from.
const dist = '../dist/src';
const { buildApp } = (await import(`${dist}/app.js`)) as typeof import('../src/app.js');
const { parseConfig } = (await import(`${dist}/config.js`)) as typeof import('../src/config.js');
import { announce, BENCH_BRIDGED_MODEL, BENCH_KEY, BENCH_MODEL, spreadKey } from './common.js';
import { startProbe } from './probe.js';

const logLevel = (process.env.BENCH_LOG_LEVEL || 'silent') as 'silent' | 'info';
const redisUrl = process.env.BENCH_REDIS_URL;
const clusterNodes = process.env.BENCH_REDIS_CLUSTER_NODES;
const limits = process.env.BENCH_LIMITS || 'on';
if (limits !== 'on' && limits !== 'off') throw new Error(`BENCH_LIMITS must be on or off, not "${limits}"`);
const spread = Number(process.env.BENCH_KEYS || 0);
const huge = 1_000_000_000_000;
const spreadKeys = Array.from({ length: spread }, (_, i) =>
  ({ name: `spread-${i}`, key: spreadKey(i), tier: 'bench' }));
const pricing = { input: 0.1, output: 0.4 };

const config = parseConfig(
  {
    server: { host: '127.0.0.1', port: 0, logLevel },
    ...(redisUrl ? { redis: { url: redisUrl } } : {}),
    ...(clusterNodes ? { redis: { cluster: { nodes: clusterNodes } } } : {}),
    providers: {
      mock: { baseUrl: `${process.argv[2]}/v1`, apiKey: 'sk-mock-upstream' },
      'mock-chat': { baseUrl: `${process.argv[2]}/v1`, apiKey: 'sk-mock-upstream', endpoints: ['chat'] },
    },
    models: {
      [BENCH_MODEL]: { routes: [{ provider: 'mock', model: 'mock-model' }], pricing },
      [BENCH_BRIDGED_MODEL]: { routes: [{ provider: 'mock-chat', model: 'mock-model' }], pricing },
    },
    tiers: { bench: limits === 'on' ? { rpm: huge, rpd: huge, tpm: huge, tpd: huge } : {} },
    keys: [{ name: 'bench', key: BENCH_KEY, tier: 'bench' }, ...spreadKeys],
  },
  {}, // no PORT/HOST overrides from the environment
  'bench config',
);

// The level is in the config (`silent` logs nothing); any other level writes to /dev/null.
const app = await buildApp(config, { logStream: pino.destination({ dest: '/dev/null', sync: false }) });
await startProbe();
// backlog as src/server.ts listens: the slow-streams run opens thousands of connections at once.
await app.listen({ host: config.server.host, port: config.server.port, backlog: 4_096 });
announce((app.server.address() as AddressInfo).port, () => app.close());
