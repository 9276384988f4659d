/**
 * `npm run bench`: direct (the mock itself), bare (undici proxy floor), fastify (a one-route Fastify
 * proxy: the framework's floor), tollgate (all four limit windows) and tollgate-nolimits (no limiter
 * call) against one mock upstream, each target in its own process, autocannon in this one. With
 * BENCH_REDIS_URL, also Redis commands per request for the tollgate targets (bench/redis-stats.ts).
 * Knobs (see bench/README.md): BENCH_DURATION, BENCH_WARMUP, BENCH_TARGETS, BENCH_ROUNDS, BENCH_STREAMS,
 * BENCH_REDIS_URL, BENCH_CPU_PROF, BENCH_PIN.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { BENCH_KEY, BENCH_MODEL } from './common.js';
import { loadNote, machine, table } from './markdown.js';
import { load, median, percentile, sanityCheck, streams, type Target } from './measure.js';
import { children, here, start, stopAll } from './processes.js';
import { accumulate, difference, RedisStats, type RedisCounts } from './redis-stats.js';

const DURATION = Number(process.env.BENCH_DURATION || 10);
const LATENCY_DURATION = Math.max(1, Math.round(DURATION / 2));
/**
 * Seconds of 50-connection load per target before any measurement. tollgate needs about 6 s to reach
 * its steady CPU per request (V8 optimizes more code, the young generation grows to its working size;
 * measured: 317, 227, then 120–170 µs in consecutive 2 s windows), the bare proxy under 2 s. A shorter
 * warm-up charges tollgate for its start-up in the first round.
 */
const WARMUP = Number(process.env.BENCH_WARMUP || 8);
const STREAMS = Number(process.env.BENCH_STREAMS || 200);
const LONG_PROMPT_KB = Number(process.env.BENCH_LONG_PROMPT_KB || 200);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS || 1));
const REDIS_URL = process.env.BENCH_REDIS_URL || '';
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
/**
 * CPU pinning during the 50-connection runs (Linux, 2+ CPUs, taskset present; BENCH_PIN=0 turns it
 * off): the proxy under test gets CPU 1 to itself, while the mock, autocannon (and Redis, if pinned as
 * bench/README.md shows) share CPU 0. Unpinned, the scheduler sometimes put the target beside
 * autocannon and sometimes not, and two runs of the same code moved by ±15 points; pinned, each
 * target's req/s is its own capacity on one core. The latency runs are unpinned again: a pinned
 * request path crosses CPUs at every hop, and each wakeup of an idle CPU adds to the latency measured.
 */
const PIN = process.env.BENCH_PIN !== '0' && os.platform() === 'linux' && os.cpus().length >= 2 && hasTaskset();

/** What each target runs (undefined: autocannon hits the mock directly). */
const TARGETS: Record<string, { script?: string; env?: Record<string, string> } | undefined> = {
  direct: undefined,
  bare: { script: 'bare-proxy.ts' },
  fastify: { script: 'fastify-floor.ts' },
  tollgate: { script: 'tollgate-server.ts', env: { BENCH_REDIS_URL: REDIS_URL, BENCH_LIMITS: 'on' } },
  'tollgate-nolimits': { script: 'tollgate-server.ts', env: { BENCH_REDIS_URL: REDIS_URL, BENCH_LIMITS: 'off' } },
  'tollgate-log': {
    script: 'tollgate-server.ts',
    env: { BENCH_REDIS_URL: REDIS_URL, BENCH_LIMITS: 'on', BENCH_LOG_LEVEL: 'info' },
  },
};
const selected = (process.env.BENCH_TARGETS || 'direct,bare,fastify,tollgate,tollgate-nolimits')
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean);
for (const name of selected) {
  if (!(name in TARGETS)) throw new Error(`unknown target "${name}"; known: ${Object.keys(TARGETS).join(', ')}`);
}

const chatBody = JSON.stringify({
  model: BENCH_MODEL,
  messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
});
const streamBody = (includeUsage: boolean) =>
  JSON.stringify({
    ...JSON.parse(chatBody),
    stream: true,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
/**
 * A long conversation (about LONG_PROMPT_KB of JSON): the body parse, the prompt-token estimate and
 * the upstream body cost grow with it. Mixed scripts and escaped quotes, as chat histories have; an
 * all-ASCII text would flatter every UTF-8 pass.
 */
const longPromptBody = (() => {
  const text = 'The quick brown fox jumps over the lazy dog, "quoted" twice. 日本語のテキストも少し。 Ünïcödé, émigré. '.repeat(40);
  const turns = Math.max(1, Math.round((LONG_PROMPT_KB * 1024) / Buffer.byteLength(JSON.stringify(text))));
  const messages = Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: text }));
  return JSON.stringify({ model: BENCH_MODEL, messages });
})();
const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };

interface Row {
  target: string;
  rps: number;
  cpu: number;
  p50: number;
  p99: number;
  ttfb: number;
  total: number;
  plainTtfb: number;
  plainTotal: number;
  longP50: number;
  longCpu: number;
  /** req/s of each round, in order (for the per-round limits on/off ratio). */
  roundRps: number[];
  /** Redis commands during the 50-connection runs, summed over rounds (tollgate targets, BENCH_REDIS_URL). */
  redis?: { requests: number; counts: RedisCounts };
}

// ---- child processes -------------------------------------------------------------------------
function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)]).status === 0;
}

const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** On: targets on CPU 1, the mock and this process (autocannon, the stream timer) on CPU 0. Off: anywhere. */
function pin(on: boolean, mockPid: number | undefined): void {
  if (!PIN) return;
  const setAffinity = (pid: number | undefined, cpus: string) =>
    pid && spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
  setAffinity(process.pid, on ? '0' : ALL_CPUS);
  for (const child of children) setAffinity(child.pid, on ? (child.pid === mockPid ? '0' : '1') : ALL_CPUS);
}

// ---- measurement -----------------------------------------------------------------------------
interface Samples {
  rps: number[];
  cpu: number[];
  latencies: number[];
  ttfb: number[];
  total: number[];
  plainTtfb: number[];
  plainTotal: number[];
  longLatencies: number[];
  longCpu: number[];
  redis?: { requests: number; counts: RedisCounts };
}

/** Only the tollgate processes talk to Redis; their commands are counted around the 50-connection run. */
const countsRedis = (name: string) => name.startsWith('tollgate');

/**
 * The 50-connection run of one target in a round. A round runs these for every target back to back,
 * so the windows compared in a round's ratios are seconds apart, not a whole round.
 */
async function throughput(name: string, target: Target, into: Samples, redis: RedisStats | undefined): Promise<void> {
  log(`${name}: 50 connections ${DURATION} s`);
  const counting = redis && countsRedis(name);
  const before = counting ? await redis.snapshot() : undefined;
  const heavy = await load(target, chatBody, 50, DURATION);
  if (counting) {
    const counts = difference(before!, await redis.snapshot());
    into.redis ??= { requests: 0, counts: { calls: new Map(), reads: 0 } };
    into.redis.requests += heavy.requests;
    accumulate(into.redis.counts, counts);
  }
  if (heavy.failures > 0) {
    notes.push(`${name}: ${heavy.failures} failed requests (errors, timeouts or non-2xx) at 50 connections`);
  }
  into.rps.push(heavy.reqPerSec);
  into.cpu.push(heavy.cpuPerRequest);
}

/**
 * The latency part of a round on one target: 1 connection (short and long prompts), streams with and
 * without include_usage.
 */
async function latency(name: string, target: Target, into: Samples): Promise<void> {
  log(
    `${name}: 1 connection ${LATENCY_DURATION} s (+ ${LATENCY_DURATION} s of long prompts), ` +
      `${STREAMS}+${STREAMS} streams`,
  );
  const single = await load(target, chatBody, 1, LATENCY_DURATION);
  const long = await load(target, longPromptBody, 1, LATENCY_DURATION);
  const usage = await streams(target, streamBody(true), true, STREAMS);
  const plain = await streams(target, streamBody(false), false, STREAMS);
  for (const [run, result] of [['1 connection', single], ['long prompts', long]] as const) {
    if (result.failures > 0) {
      notes.push(`${name}: ${result.failures} failed requests (errors, timeouts or non-2xx) at ${run}`);
    }
  }
  append(into.latencies, single.latencies);
  append(into.longLatencies, long.latencies);
  into.longCpu.push(long.cpuPerRequest);
  append(into.ttfb, usage.ttfb);
  append(into.total, usage.total);
  append(into.plainTtfb, plain.ttfb);
  append(into.plainTotal, plain.total);
}

/** push(...values) overflows the stack for the ~50k latencies of one run. */
function append(into: number[], values: number[]): void {
  for (const value of values) into.push(value);
}

const notes: string[] = [];
const log = (message: string) => console.error(`[bench] ${message}`);

/**
 * Every target is started up front (idle processes cost nothing) and warmed up, then measured in
 * turn; with BENCH_ROUNDS > 1 the turns repeat, so drift on a shared box hits every target alike.
 */
async function main(): Promise<Row[]> {
  const busy = loadNote();
  if (busy) notes.push(busy);
  const mock = await start('mock-upstream.ts', []);
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const targets = new Map<string, Target>();
  for (const name of selected) {
    const spec = TARGETS[name];
    const { port, child } = spec?.script
      ? await start(spec.script, [mockOrigin], { env: spec.env, cpuProfile: CPU_PROF })
      : mock;
    const target = { origin: `http://127.0.0.1:${port}`, headers, pid: child.pid };
    await sanityCheck(target, chatBody);
    targets.set(name, target);
  }
  for (const [name, target] of targets) {
    log(`${name}: warm-up ${WARMUP} s`);
    await load(target, chatBody, 50, WARMUP);
    await streams(target, streamBody(true), true, 20);
    await streams(target, streamBody(false), false, 20);
  }
  const samples = new Map(
    [...targets.keys()].map((name): [string, Samples] => [
      name,
      {
        rps: [],
        cpu: [],
        latencies: [],
        ttfb: [],
        total: [],
        plainTtfb: [],
        plainTotal: [],
        longLatencies: [],
        longCpu: [],
      },
    ]),
  );
  const redis = REDIS_URL && selected.some(countsRedis) ? new RedisStats(REDIS_URL) : undefined;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) log(`round ${round}/${ROUNDS}`);
      pin(true, mock.child.pid);
      for (const [name, target] of targets) await throughput(name, target, samples.get(name)!, redis);
      pin(false, mock.child.pid);
      for (const [name, target] of targets) await latency(name, target, samples.get(name)!);
    }
  } finally {
    await redis?.close();
  }
  return [...samples].map(([target, s]) => ({
    target,
    rps: median(s.rps),
    cpu: median(s.cpu),
    p50: percentile(s.latencies, 50),
    p99: percentile(s.latencies, 99),
    ttfb: percentile(s.ttfb, 50),
    total: percentile(s.total, 50),
    plainTtfb: percentile(s.plainTtfb, 50),
    plainTotal: percentile(s.plainTotal, 50),
    longP50: percentile(s.longLatencies, 50),
    longCpu: median(s.longCpu),
    roundRps: s.rps,
    ...(s.redis ? { redis: s.redis } : {}),
  }));
}

// ---- report ----------------------------------------------------------------------------------
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : '–');
const delta = (v: number, base: number | undefined) =>
  base === undefined ? '–' : `${v - base >= 0 ? '+' : ''}${(v - base).toFixed(3)} ms`;
const cpu = (v: number, base: number | undefined) =>
  Number.isFinite(v) ? `${Math.round(v)} µs${base ? ` (${(v / base).toFixed(2)}×)` : ''}` : '–';

const pct = (v: number) => `${Math.round(100 * v)}%`;

/**
 * req/s of `a` as a share of `b`: the median over rounds of the two runs of the same round. The box's
 * speed drifts by tens of percent over seconds; a ratio of two runs seconds apart cancels most of it.
 */
function pairedRatio(a: Row, b: Row): number {
  return median(a.roundRps.map((rps, i) => rps / b.roundRps[i]!));
}

function report(rows: Row[]): string {
  const bare = rows.find((r) => r.target === 'bare');
  const on = rows.find((r) => r.target === 'tollgate');
  const off = rows.find((r) => r.target === 'tollgate-nolimits');
  const main = rows.map((r) => [
    r.target,
    Math.round(r.rps),
    bare ? pct(pairedRatio(r, bare)) : '–',
    r === on && off ? pct(pairedRatio(on, off)) : '–',
    cpu(r.cpu, bare?.cpu),
    `${r.p50.toFixed(3)} / ${r.p99.toFixed(3)} ms`,
    delta(r.p50, bare?.p50),
    ms(r.ttfb),
    delta(r.ttfb, bare?.ttfb),
    ms(r.total),
  ]);
  const plain = rows.map((r) => [
    r.target,
    ms(r.plainTtfb),
    delta(r.plainTtfb, bare?.plainTtfb),
    ms(r.plainTotal),
    delta(r.plainTotal, bare?.plainTotal),
  ]);
  const long = rows.map((r) => [
    r.target,
    ms(r.longP50),
    delta(r.longP50, bare?.longP50),
    cpu(r.longCpu, bare?.longCpu),
  ]);
  return [
    `# tollgate bench — ${new Date().toISOString()}`,
    '',
    `${machine()} ` +
      (PIN
        ? 'Loopback; at 50 connections the target runs alone on CPU 1 while the mock and autocannon share CPU 0, ' +
          "so req/s is the target's capacity on one core; latency runs are unpinned. "
        : 'Loopback; mock, target and autocannon share the CPUs (not pinned), so compare ratios, not absolutes. ') +
      "CPU/req: user+system CPU of the target's own process per request at 50 connections " +
      "(direct: the mock's).",
    `Per target: ${WARMUP} s warm-up; then ${ROUNDS} round(s) of 50 connections for ${DURATION} s ` +
      '(req/s: median of rounds; ratios: median of the per-round ratios), ' +
      `1 connection for ${LATENCY_DURATION} s, ${STREAMS} sequential streams per mode ` +
      `(mock sends ${process.env.BENCH_STREAM_CHUNKS ?? 20} content chunks with no delay). ` +
      'tollgate: tier with rpm, rpd, tpm and tpd (limits on); ' +
      'tollgate-nolimits: tier with no limits, no limiter call (limits off); ' +
      `logging silent${selected.includes('tollgate-log') ? ' (tollgate-log: level info to /dev/null)' : ''}, ` +
      (REDIS_URL
        ? `limits and usage on Redis at ${new URL(REDIS_URL).host}`
        : 'no Redis (in-memory limits and usage)') +
      '.',
    '',
    table(
      [
        'target',
        'req/s (50 conns)',
        'vs bare',
        'limits on / off',
        'CPU/req (×bare)',
        'p50 / p99 (1 conn)',
        'p50 Δ vs bare',
        'stream TTFB p50',
        'TTFB Δ vs bare',
        'stream total p50',
      ],
      main,
    ),
    '',
    'Streams without `include_usage` (tollgate asks the upstream for usage and strips the usage chunk):',
    '',
    table(['target', 'TTFB p50', 'TTFB Δ vs bare', 'total p50', 'total Δ vs bare'], plain),
    '',
    `Long prompts (${Math.round(Buffer.byteLength(longPromptBody) / 1024)} KB chat history, mixed scripts; ` +
      '1 connection, non-streamed; CPU/req of the target process):',
    '',
    table(['target', 'p50', 'p50 Δ vs bare', 'CPU/req (×bare)'], long),
    ...(on && off ? ['', limiterCost(on, off)] : []),
    ...redisSection(rows),
    ...(notes.length ? ['', ...notes.map((n) => `- ⚠ ${n}`)] : []),
    '',
  ].join('\n');
}

/** The limits issue's figure: throughput with limits on vs off, target at least 85 %. */
function limiterCost(on: Row, off: Row): string {
  const ratio = pairedRatio(on, off);
  const rounds =
    on.roundRps.length > 1
      ? ` (per round: ${on.roundRps.map((rps, i) => pct(rps / off.roundRps[i]!)).join(', ')})`
      : '';
  return (
    `Limiter cost (tollgate vs tollgate-nolimits): ${Math.round(on.rps)} / ${Math.round(off.rps)} req/s ` +
    `(medians); per-round ratio median **${pct(ratio)}** with limits on` +
    `${rounds}; target ≥ 85%: ${ratio >= 0.85 ? 'met' : '**not met**'}. ` +
    `CPU/req ${Math.round(on.cpu)} vs ${Math.round(off.cpu)} µs ` +
    `(${on.cpu - off.cpu >= 0 ? '+' : ''}${Math.round(on.cpu - off.cpu)} µs; off / on = ${pct(off.cpu / on.cpu)}, ` +
    'the req/s share a CPU-bound tollgate would keep, steadier on a shared box), ' +
    `1-connection p50 ${delta(on.p50, off.p50)}. ` +
    'Both estimate prompt tokens and record usage; only tollgate calls the limiter ' +
    '(admission, then settlement carried on the next admission).'
  );
}

function redisSection(rows: Row[]): string[] {
  const counted = rows.filter((r) => r.redis && r.redis.requests > 0);
  if (counted.length === 0) return [];
  const perRequest = (r: Row, n: number) => (n / r.redis!.requests).toFixed(3);
  const calls = (r: Row, ...names: string[]) =>
    names.reduce((sum, name) => sum + (r.redis!.counts.calls.get(name) ?? 0), 0);
  const body = counted.map((r) => {
    const { counts, requests } = r.redis!;
    const total = [...counts.calls.values()].reduce((a, b) => a + b, 0);
    const byCommand = [...counts.calls]
      .filter(([, n]) => n / requests >= 0.0005)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${perRequest(r, n)}`)
      .join(', ');
    return [
      r.target,
      requests,
      perRequest(r, total),
      perRequest(r, calls(r, 'evalsha', 'eval')),
      perRequest(r, counts.reads),
      byCommand || '–',
    ];
  });
  return [
    '',
    'Redis during the 50-connection runs (`INFO commandstats` before and after, summed over rounds, ' +
      'divided by the requests autocannon completed; ' +
      "the bench's own INFO left out). Commands are counted by the server: " +
      'those a Lua script runs (TIME, GET, SET, HINCRBY…) count next to the ' +
      'EVALSHA that carried them. On the request path, each request waits for one EVALSHA, ' +
      'shared by the admissions of its key and model in the ' +
      'same event-loop turn (so EVALSHA/req < 1 under load); ' +
      'usage goes out as one EVALSHA per 50 ms batch window (tollgate-nolimits shows those alone). ' +
      'Reads: socket reads the server processed (`total_reads_processed`), i.e. client writes.',
    '',
    table(
      ['target', 'requests', 'commands/req', 'EVALSHA+EVAL/req', 'Redis reads/req', 'by command (per req)'],
      body,
    ),
  ];
}

try {
  const text = report(await main());
  console.log(text);
  writeFileSync(here(REDIS_URL ? 'results-redis.md' : 'results.md'), text);
} finally {
  await stopAll();
}
