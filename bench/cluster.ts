/**
 * Admission and usage on a Redis Cluster against one Redis server, in the same run: tollgate (limits on,
 * usage recorded) on a redis-server of its own, and on a 3 + 3 Redis Cluster of its own
 * (scripts/redis-cluster.ts, the starter the tests use too: bench code does not import from test/).
 * The load spreads over 1,000 keys (bodies.ts spreadChat), whose buckets and usage cells hash to slots on
 * all three primaries. Reported per target: requests/s, CPU time of the tollgate process per request
 * (/proc, measure.ts), and per request the Redis commands and socket reads (≈ round trips, see
 * redis-stats.ts) from INFO, summed over the primaries on the cluster.
 *
 *   npm run bench:cluster                          # BENCH_DURATION=10 s per run, BENCH_ROUNDS=2
 *   BENCH_DURATION=3 BENCH_ROUNDS=1 npm run bench:cluster
 */
import { startRedisCluster } from '../scripts/redis-cluster.js';
import { chatBody, spreadChat, tollgateHeaders } from './bodies.js';
import { load, median, sanityCheck, type Target } from './measure.js';
import { start, stopAll } from './processes.js';
import { startRedis } from './redis-server.js';
import { accumulate, difference, type RedisCounts, RedisStats } from './redis-stats.js';

const DURATION = Number(process.env.BENCH_DURATION || 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const CONNECTIONS = 50;
const KEYS = 1_000;
const log = (message: string) => console.error(`[bench] ${message}`);

interface Run {
  name: string;
  target: Target;
  /** One per Redis the target's commands land on (the primaries, on the cluster). */
  stats: RedisStats[];
  rps: number[];
  cpu: number[];
  requests: number;
  redis: RedisCounts;
}

async function startTarget(name: string, mockOrigin: string, env: Record<string, string>, urls: string[]) {
  const started = await start('tollgate-server.ts', [mockOrigin], { env: { ...env, BENCH_KEYS: String(KEYS) } });
  const target = { origin: `http://127.0.0.1:${started.port}`, headers: tollgateHeaders, pid: started.child.pid };
  await sanityCheck(target, chatBody);
  const stats = urls.map((url) => new RedisStats(url));
  return { name, target, stats, rps: [], cpu: [], requests: 0, redis: { calls: new Map(), reads: 0 } } as Run;
}

async function measure(run: Run): Promise<void> {
  log(`${run.name}: ${CONNECTIONS} connections, ${DURATION} s, ${KEYS} keys`);
  const before = await Promise.all(run.stats.map((stats) => stats.snapshot()));
  const result = await load(run.target, spreadChat(KEYS), CONNECTIONS, DURATION);
  const after = await Promise.all(run.stats.map((stats) => stats.snapshot()));
  before.forEach((counts, i) => accumulate(run.redis, difference(counts, after[i]!)));
  if (result.failures > 0) log(`${run.name}: ${result.failures} failed requests`);
  run.rps.push(result.reqPerSec);
  run.cpu.push(result.cpuPerRequest);
  run.requests += result.requests;
}

function row(run: Run): string {
  const per = (n: number) => (n / run.requests).toFixed(2);
  const calls = [...run.redis.calls.values()].reduce((sum, n) => sum + n, 0);
  const scripts = (run.redis.calls.get('evalsha') ?? 0) + (run.redis.calls.get('eval') ?? 0);
  const cells = [median(run.rps).toFixed(0), `${median(run.cpu).toFixed(0)} µs`, per(scripts), per(calls)];
  return `| ${run.name} | ${cells.join(' | ')} | ${per(run.redis.reads)} |`;
}

async function main(): Promise<void> {
  const [single, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
  const mock = await start('mock-upstream.ts', []);
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const runs = [
    await startTarget('one Redis', mockOrigin, { BENCH_REDIS_URL: single.url }, [single.url]),
    await startTarget('Redis Cluster 3+3', mockOrigin, { BENCH_REDIS_CLUSTER_NODES: cluster.nodes.join(',') },
      cluster.nodes),
  ];
  try {
    for (const run of runs) await load(run.target, spreadChat(KEYS), CONNECTIONS, 2); // warm-up
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round}/${ROUNDS}`);
      for (const run of runs) await measure(run);
    }
  } finally {
    await Promise.all(runs.flatMap((run) => run.stats.map((stats) => stats.close())));
  }
  console.log(`tollgate, limits on and usage recorded, ${KEYS} keys, ${CONNECTIONS} connections, ` +
    `${ROUNDS} × ${DURATION} s per target (median of the runs; Redis counts per request over all runs)\n`);
  console.log('| target | req/s | CPU / request | script calls / req | Redis commands / req | socket reads / req |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const run of runs) console.log(row(run));
  await stopAll();
  await cluster.stop();
}

await main();
