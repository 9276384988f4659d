/**
 * `npm run bench`: every figure of issue 16 in one run. Targets (each in its own process, see
 * bench/README.md): the two floors (bare: piping, bare-buffer: buffering), tollgate in memory,
 * tollgate on Redis (a redis-server of the bench's own, or BENCH_REDIS_URL) with 1,000 more keys,
 * and Portkey's gateway as a peer (installed on demand, peers.ts); direct, fastify, tollgate-nolimits
 * and tollgate-log on request. Each round measures, per target: req/s and CPU/request at 50
 * connections with a repeated prompt, a unique prompt per request and (tollgate-redis) the load
 * spread over 1,000 keys, pinned; then unpinned the 1-connection latency, timed streams, chat
 * histories of 1 KB to 4 MB, and the event-loop block of one 1M-token prompt. After the rounds,
 * thousands of concurrent slow streams on the default config (slow-streams.ts). The report
 * (report.ts) goes to stdout and bench/results.md. Knobs: bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { request } from 'undici';
import { chatBody, chatHistory, spreadChat, streamBody, tollgateHeaders, uniqueChat } from './bodies.js';
import { loadNote } from './markdown.js';
import { load, loopBlock, sanityCheck, streams, type Load, type Target } from './measure.js';
import { ensurePortkey, PORTKEY_ENTRY } from './peers.js';
import { children, here, start, stopAll } from './processes.js';
import { hasRedisServer, startRedis } from './redis-server.js';
import { accumulate, difference, RedisStats } from './redis-stats.js';
import { report, SCENARIOS, type Conditions, type Samples, type Scenario } from './report.js';
import { slowStreams } from './slow-streams.js';

const num = (name: string, fallback: number) => Number(process.env[name] || fallback);
const DURATION = num('BENCH_DURATION', 3);
const LATENCY_DURATION = Math.max(1, Math.round(DURATION / 2));
/**
 * Seconds of 50-connection load per target before any measurement (and half as long with unique
 * prompts, which fills tollgate's token cache to its steady, evicting state). tollgate needs about
 * 6 s to reach its steady CPU per request (V8 optimizes more code, the young generation grows to its
 * working size), the bare proxy under 2 s. A shorter warm-up charges tollgate for its start-up.
 */
const WARMUP = num('BENCH_WARMUP', 8);
const ROUNDS = Math.max(1, num('BENCH_ROUNDS', 5));
const STREAMS = num('BENCH_STREAMS', 100);
const SIZES_KB = (process.env.BENCH_SIZES_KB || '1,64,1024,4096').split(',').map(Number).filter((kb) => kb > 0);
const SIZE_DURATION = num('BENCH_SIZE_DURATION', 2);
const LOOP_KB = num('BENCH_LOOP_KB', 4096);
/** One-prompt loop-block measurements per round (the median of all is reported: one is noisy). */
const LOOP_REQUESTS = 3;
const SPREAD_KEYS = num('BENCH_SPREAD_KEYS', 1000);
const SLOW = {
  count: num('BENCH_SLOW_STREAMS', 2000),
  rampMs: num('BENCH_SLOW_RAMP_MS', 1000),
  deadlineMs: num('BENCH_SLOW_DEADLINE', 30) * 1000,
  gapMs: 100,
  spreadMs: 150,
};
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
/**
 * CPU pinning during the 50-connection runs (Linux, 2+ CPUs, taskset present; BENCH_PIN=0 turns it
 * off): the proxy under test gets CPU 1 to itself, while the mock, Redis and autocannon share CPU 0.
 * Unpinned, the scheduler sometimes put the target beside autocannon and sometimes not, and two runs
 * of the same code moved by ±15 points. The latency runs are unpinned again: a pinned request path
 * crosses CPUs at every hop, and each wakeup of an idle CPU adds to the latency measured.
 */
const PIN = process.env.BENCH_PIN !== '0' && os.platform() === 'linux' && os.cpus().length >= 2 && hasTaskset();

interface Spec {
  script?: string;
  env?: Record<string, string>;
  /** Talks to Redis: its commands are counted, BENCH_REDIS_URL is set for it. */
  redis?: boolean;
  /** Runs the many-keys load (it was started with BENCH_KEYS). */
  spread?: boolean;
  /** Runs the timed streams, the body sizes and the loop block (probe.ts: heap and loop). */
  full?: boolean;
  headers?: (mockOrigin: string) => Record<string, string>;
}

const TARGETS: Record<string, Spec> = {
  direct: {},
  bare: { script: 'bare-proxy.ts', full: true },
  'bare-buffer': { script: 'bare-buffer.ts', full: true },
  fastify: { script: 'fastify-floor.ts' },
  tollgate: { script: 'tollgate-server.ts', env: { BENCH_LIMITS: 'on' }, full: true },
  'tollgate-nolimits': { script: 'tollgate-server.ts', env: { BENCH_LIMITS: 'off' } },
  'tollgate-log': { script: 'tollgate-server.ts', env: { BENCH_LIMITS: 'on', BENCH_LOG_LEVEL: 'info' } },
  'tollgate-redis': {
    script: 'tollgate-server.ts',
    env: { BENCH_LIMITS: 'on', BENCH_KEYS: String(SPREAD_KEYS) },
    redis: true,
    spread: true,
    full: true,
  },
  portkey: {
    script: 'portkey-gateway.ts',
    headers: (mock) => ({
      'content-type': 'application/json',
      authorization: 'Bearer sk-mock-upstream',
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${mock}/v1`,
    }),
  },
};

const notes: string[] = [];
const log = (message: string) => console.error(`[bench] ${message}`);

function selectTargets(): string[] {
  const list = (process.env.BENCH_TARGETS || 'bare,bare-buffer,tollgate,tollgate-redis,portkey')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const name of list) {
    if (!(name in TARGETS)) throw new Error(`unknown target "${name}"; known: ${Object.keys(TARGETS).join(', ')}`);
  }
  const peers = process.env.BENCH_PEERS ?? 'portkey';
  return list.filter((name) => {
    if (name !== 'portkey') return true;
    if (!peers.split(',').includes('portkey')) return false;
    const missing = ensurePortkey();
    if (missing) notes.push(`portkey left out: ${missing}`);
    return !missing;
  });
}

/** BENCH_REDIS_URL, else (BENCH_REDIS unless `0`) a redis-server of our own; undefined: no Redis targets. */
async function redisUrl(selected: string[]): Promise<string | undefined> {
  if (!selected.some((name) => TARGETS[name]!.redis)) return undefined;
  if (process.env.BENCH_REDIS_URL) return process.env.BENCH_REDIS_URL;
  if (process.env.BENCH_REDIS !== '0' && hasRedisServer()) return (await startRedis()).url;
  notes.push('no Redis (redis-server not found, or BENCH_REDIS=0): the Redis targets were left out');
  return undefined;
}

// ---- child processes -------------------------------------------------------------------------
function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)]).status === 0;
}

const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** On: targets on CPU 1; the mock, Redis and this process (autocannon, the timers) on CPU 0. Off: anywhere. */
function pin(on: boolean, targetPids: Set<number | undefined>): void {
  if (!PIN) return;
  const setAffinity = (pid: number | undefined, cpus: string) =>
    pid && spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
  setAffinity(process.pid, on ? '0' : ALL_CPUS);
  for (const child of children) setAffinity(child.pid, on ? (targetPids.has(child.pid) ? '1' : '0') : ALL_CPUS);
}

/** The soft limit on open files (the slow streams need a few per stream in this process and the target). */
function openFilesLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out) || 1024;
}

interface Running {
  name: string;
  spec: Spec;
  target: Target;
  probe?: number;
  samples: Samples;
}

const emptySamples = (): Samples => ({
  runs: new Map(),
  latencies: [],
  ttfb: [],
  total: [],
  plainTtfb: [],
  plainTotal: [],
  sizes: new Map(),
  loop: [],
});

// ---- measurement -----------------------------------------------------------------------------
const LOADS: Record<Scenario, Load> = { repeated: chatBody, unique: uniqueChat, spread: spreadChat(SPREAD_KEYS) };

/** One 50-connection run of one scenario on one target, with its Redis commands when it uses Redis. */
async function throughput(run: Running, scenario: Scenario, stats: RedisStats | undefined): Promise<void> {
  log(`${run.name}: ${scenario}, 50 connections ${DURATION} s`);
  const counting = run.spec.redis ? stats : undefined;
  const before = await counting?.snapshot();
  const result = await load(run.target, LOADS[scenario], 50, DURATION);
  const samples = run.samples.runs.get(scenario) ?? { rps: [], cpu: [], requests: 0 };
  run.samples.runs.set(scenario, samples);
  if (counting && before) {
    const counts = difference(before, await counting.snapshot());
    samples.redis ??= { calls: new Map(), reads: 0 };
    accumulate(samples.redis, counts);
  }
  if (result.failures > 0) {
    notes.push(`${run.name}: ${result.failures} failed requests at 50 connections (${scenario})`);
  }
  samples.rps.push(result.reqPerSec);
  samples.cpu.push(result.cpuPerRequest);
  samples.requests += result.requests;
}

const bodies = new Map(SIZES_KB.map((kb) => [kb, chatHistory(kb)]));
const loopBody = bodies.get(LOOP_KB) ?? chatHistory(LOOP_KB);

/** The unpinned part of a round on one target: 1 connection, streams, body sizes, the loop block. */
async function latency(run: Running): Promise<void> {
  const { name, target, samples, spec } = run;
  const more = spec.full ? `, streams, ${SIZES_KB.join('/')} KB, loop block` : '';
  log(`${name}: 1 connection ${LATENCY_DURATION} s${more}`);
  const single = await load(target, chatBody, 1, LATENCY_DURATION);
  if (single.failures > 0) notes.push(`${name}: ${single.failures} failed requests at 1 connection`);
  append(samples.latencies, single.latencies);
  if (!spec.full) return;
  const usage = await streams(target, streamBody(true), true, STREAMS);
  const plain = await streams(target, streamBody(false), false, STREAMS);
  append(samples.ttfb, usage.ttfb);
  append(samples.total, usage.total);
  append(samples.plainTtfb, plain.ttfb);
  append(samples.plainTotal, plain.total);
  for (const [kb, body] of bodies) {
    const result = await load(target, body, 1, SIZE_DURATION);
    if (result.failures > 0) notes.push(`${name}: ${result.failures} failed requests with ${kb} KB bodies`);
    const size = samples.sizes.get(kb) ?? { cpu: [], latencies: [] };
    samples.sizes.set(kb, size);
    size.cpu.push(result.cpuPerRequest);
    append(size.latencies, result.latencies);
  }
  for (let i = 0; i < LOOP_REQUESTS && run.probe; i++) {
    samples.loop.push(await loopBlock(run.probe, () => post(target, loopBody)));
  }
}

async function post(target: Target, body: string): Promise<void> {
  const url = `${target.origin}/v1/chat/completions`;
  const response = await request(url, { method: 'POST', headers: target.headers, body });
  await response.body.text();
  if (response.statusCode !== 200) notes.push(`${target.origin}: ${response.statusCode} to the loop-block request`);
}

/** push(...values) overflows the stack for the ~50k latencies of one run. */
function append(into: number[], values: number[]): void {
  for (const value of values) into.push(value);
}

async function pace(mockOrigin: string, settings: object): Promise<void> {
  const response = await request(`${mockOrigin}/bench/pace`, { method: 'POST', body: JSON.stringify(settings) });
  await response.body.dump();
}

/** Thousands of slow streams through the piping floor and the primary tollgate, one target at a time. */
async function slowPhase(runs: Running[], primary: string | undefined, mockOrigin: string): Promise<number> {
  const limit = openFilesLimit();
  // This process holds one socket per stream, the target two, the mock one: leave room.
  const count = Math.min(SLOW.count, Math.floor((limit - 200) / 2));
  if (count < SLOW.count) notes.push(`open files limit ${limit}: slow streams cut from ${SLOW.count} to ${count}`);
  if (count <= 0) return 0;
  await pace(mockOrigin, { gapMs: SLOW.gapMs, spreadMs: SLOW.spreadMs });
  try {
    for (const run of runs.filter((r) => r.name === 'bare' || r.name === primary)) {
      log(`${run.name}: ${count} concurrent slow streams (deadline ${SLOW.deadlineMs / 1000} s)`);
      run.samples.slow = await slowStreams(run.target, run.probe, {
        count,
        rampMs: SLOW.rampMs,
        deadlineMs: SLOW.deadlineMs,
        body: streamBody(true),
        path: '/v1/chat/completions',
      });
      const { failures, firstError } = run.samples.slow;
      if (failures) notes.push(`${run.name}: ${failures} slow streams failed (first: ${firstError})`);
    }
  } finally {
    await pace(mockOrigin, { gapMs: 0 });
  }
  return count;
}

async function warmUp(run: Running): Promise<void> {
  log(`${run.name}: warm-up ${WARMUP} s (+ ${Math.ceil(WARMUP / 2)} s unique prompts)`);
  await load(run.target, chatBody, 50, WARMUP);
  await load(run.target, uniqueChat, 50, Math.ceil(WARMUP / 2));
  if (run.spec.spread) await load(run.target, LOADS.spread, 50, 2);
  if (!run.spec.full) return;
  await streams(run.target, streamBody(true), true, 20);
  await streams(run.target, streamBody(false), false, 20);
  for (const body of bodies.values()) await load(run.target, body, 1, 1);
}

async function main(): Promise<string> {
  const loadStart = os.loadavg()[0]!;
  const busy = loadNote();
  if (busy) notes.push(busy);
  let selected = selectTargets();
  const redis = await redisUrl(selected);
  if (!redis) selected = selected.filter((name) => !TARGETS[name]!.redis);
  const mock = await start('mock-upstream.ts', []);
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const runs: Running[] = [];
  for (const name of selected) {
    const spec = TARGETS[name]!;
    const env = { ...spec.env, ...(spec.redis && redis ? { BENCH_REDIS_URL: redis } : {}) };
    const started = spec.script
      ? await start(spec.script, [mockOrigin], { env, cpuProfile: CPU_PROF, nodeArgs: ['--expose-gc'] })
      : mock;
    const target = { origin: `http://127.0.0.1:${started.port}`, headers: spec.headers?.(mockOrigin) ?? tollgateHeaders, pid: started.child.pid };
    await sanityCheck(target, chatBody);
    runs.push({ name, spec, target, ...(started.probe ? { probe: started.probe } : {}), samples: emptySamples() });
  }
  const targetPids = new Set(runs.filter((r) => r.spec.script).map((r) => r.target.pid));
  for (const run of runs) await warmUp(run);
  const stats = redis ? new RedisStats(redis) : undefined;
  const primary = runs.find((r) => r.name === 'tollgate-redis')?.name ?? runs.find((r) => r.name === 'tollgate')?.name;
  let slowCount = 0;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round}/${ROUNDS}`);
      pin(true, targetPids);
      for (const run of runs) {
        for (const scenario of SCENARIOS) {
          if (scenario !== 'spread' || run.spec.spread) await throughput(run, scenario, stats);
        }
      }
      pin(false, targetPids);
      for (const run of runs) await latency(run);
    }
    slowCount = await slowPhase(runs, primary, mockOrigin);
  } finally {
    await stats?.close();
  }
  const conditions: Conditions = {
    loadStart,
    loadEnd: os.loadavg()[0]!,
    pinned: PIN,
    rounds: ROUNDS,
    duration: DURATION,
    latencyDuration: LATENCY_DURATION,
    sizeDuration: SIZE_DURATION,
    warmup: WARMUP,
    streams: STREAMS,
    spreadKeys: SPREAD_KEYS,
    sizesKb: SIZES_KB,
    loopKb: LOOP_KB,
    loopBytes: Buffer.byteLength(loopBody),
    slow: { ...SLOW, count: slowCount },
    redis: redis && (process.env.BENCH_REDIS_URL ? `Redis at ${new URL(redis).host}` : 'a redis-server of its own'),
    portkey: selected.includes('portkey') ? portkeyVersion() : undefined,
    primary,
  };
  return report(new Map(runs.map((r) => [r.name, r.samples])), conditions, notes);
}

function portkeyVersion(): string {
  const manifest = PORTKEY_ENTRY.replace(/build\/start-server\.js$/, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

try {
  const text = await main();
  console.log(text);
  writeFileSync(here(process.env.BENCH_RESULTS || 'results.md'), text);
} finally {
  await stopAll();
}
