/**
 * `npm run bench`: direct (the mock itself), bare (undici proxy floor) and tollgate against one mock
 * upstream, each target in its own process, autocannon in this one. Knobs (see bench/README.md):
 * BENCH_DURATION, BENCH_TARGETS, BENCH_STREAMS, BENCH_REDIS_URL, BENCH_CPU_PROF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_KEY, BENCH_MODEL } from './common.js';
import { load, percentile, sanityCheck, streams, type Target } from './measure.js';

const DURATION = Number(process.env.BENCH_DURATION || 10);
const LATENCY_DURATION = Math.max(1, Math.round(DURATION / 2));
const WARMUP = 2;
const STREAMS = Number(process.env.BENCH_STREAMS || 200);
const REDIS_URL = process.env.BENCH_REDIS_URL || '';
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** What each target runs (undefined: autocannon hits the mock directly). */
const TARGETS: Record<string, { script?: string; env?: Record<string, string> } | undefined> = {
  direct: undefined,
  bare: { script: 'bare-proxy.ts' },
  tollgate: { script: 'tollgate-server.ts', env: { BENCH_REDIS_URL: REDIS_URL } },
  'tollgate-log': { script: 'tollgate-server.ts', env: { BENCH_REDIS_URL: REDIS_URL, BENCH_LOG_LEVEL: 'info' } },
};
const selected = (process.env.BENCH_TARGETS || 'direct,bare,tollgate').split(',').map((t) => t.trim()).filter(Boolean);
for (const name of selected) if (!(name in TARGETS)) throw new Error(`unknown target "${name}"; known: ${Object.keys(TARGETS).join(', ')}`);

const chatBody = JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: 'Say hello to the benchmark.' }] });
const streamBody = (includeUsage: boolean) =>
  JSON.stringify({ ...JSON.parse(chatBody), stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };

interface Row {
  target: string;
  rps: number;
  p50: number;
  p99: number;
  ttfb: number;
  total: number;
  plainTtfb: number;
  plainTotal: number;
}

// ---- child processes -------------------------------------------------------------------------
const children = new Set<ChildProcess>();

function start(script: string, args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const prof = CPU_PROF && script.startsWith('tollgate') ? ['--cpu-prof', `--cpu-prof-dir=${here('profiles')}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', here(script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not report its port within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before reporting its port`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = /^PORT (\d+)$/.exec(line)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ child, port: Number(port) });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
process.once('SIGINT', () => void Promise.all([...children].map(stop)).finally(() => process.exit(130)));

// ---- measurement -----------------------------------------------------------------------------
async function measure(name: string, target: Target): Promise<Row> {
  await sanityCheck(target, chatBody);
  log(`${name}: warm-up ${WARMUP} s, 50 connections ${DURATION} s`);
  await load(target, chatBody, 50, WARMUP);
  const heavy = await load(target, chatBody, 50, DURATION);
  log(`${name}: 1 connection ${LATENCY_DURATION} s`);
  const single = await load(target, chatBody, 1, LATENCY_DURATION);
  log(`${name}: ${STREAMS} streams with include_usage, ${STREAMS} without`);
  await streams(target, streamBody(true), true, 20); // warm-up
  const usage = await streams(target, streamBody(true), true, STREAMS);
  const plain = await streams(target, streamBody(false), false, STREAMS);
  if (heavy.failures + single.failures > 0) notes.push(`${name}: ${heavy.failures + single.failures} failed requests (errors, timeouts or non-2xx) under load`);
  return {
    target: name,
    rps: heavy.reqPerSec,
    p50: percentile(single.latencies, 50),
    p99: percentile(single.latencies, 99),
    ttfb: percentile(usage.ttfb, 50),
    total: percentile(usage.total, 50),
    plainTtfb: percentile(plain.ttfb, 50),
    plainTotal: percentile(plain.total, 50),
  };
}

const notes: string[] = [];
const log = (message: string) => console.error(`[bench] ${message}`);

async function main(): Promise<Row[]> {
  const mock = await start('mock-upstream.ts', []);
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const rows: Row[] = [];
  for (const name of selected) {
    const spec = TARGETS[name];
    const child = spec?.script ? await start(spec.script, [mockOrigin], spec.env) : undefined;
    try {
      rows.push(await measure(name, { origin: child ? `http://127.0.0.1:${child.port}` : mockOrigin, headers }));
    } finally {
      if (child) await stop(child.child);
    }
  }
  return rows;
}

// ---- report ----------------------------------------------------------------------------------
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : '–');
const delta = (v: number, base: number | undefined) => (base === undefined ? '–' : `${v - base >= 0 ? '+' : ''}${(v - base).toFixed(3)} ms`);

function report(rows: Row[]): string {
  const bare = rows.find((r) => r.target === 'bare');
  const main = rows.map((r) =>
    [r.target, Math.round(r.rps), bare ? `${Math.round((100 * r.rps) / bare.rps)}%` : '–', `${r.p50.toFixed(3)} / ${r.p99.toFixed(3)} ms`,
      delta(r.p50, bare?.p50), ms(r.ttfb), delta(r.ttfb, bare?.ttfb), ms(r.total)],
  );
  const plain = rows.map((r) => [r.target, ms(r.plainTtfb), delta(r.plainTtfb, bare?.plainTtfb), ms(r.plainTotal), delta(r.plainTotal, bare?.plainTotal)]);
  const cpus = os.cpus();
  return [
    `# tollgate bench — ${new Date().toISOString()}`,
    '',
    `Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.release()}. ` +
      `Loopback; mock, target and autocannon share the CPUs, so compare ratios, not absolutes.`,
    `Load: ${WARMUP} s warm-up, then 50 connections for ${DURATION} s; latency: 1 connection for ${LATENCY_DURATION} s; ` +
      `streams: ${STREAMS} sequential per mode (mock sends ${process.env.BENCH_STREAM_CHUNKS ?? 20} chunks with no delay). ` +
      `tollgate: logging silent${selected.includes('tollgate-log') ? ' (tollgate-log: level info to /dev/null)' : ''}, ` +
      `${REDIS_URL ? `redis ${REDIS_URL}` : 'no Redis (in-memory)'}.`,
    '',
    table(['target', 'req/s (50 conns)', 'vs bare', 'p50 / p99 (1 conn)', 'p50 Δ vs bare', 'stream TTFB p50', 'TTFB Δ vs bare', 'stream total p50'], main),
    '',
    'Streams without `include_usage` (tollgate asks the upstream for usage and strips the usage chunk):',
    '',
    table(['target', 'TTFB p50', 'TTFB Δ vs bare', 'total p50', 'total Δ vs bare'], plain),
    ...(notes.length ? ['', ...notes.map((n) => `- ⚠ ${n}`)] : []),
    '',
  ].join('\n');
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

try {
  const text = report(await main());
  console.log(text);
  writeFileSync(here('results.md'), text);
} finally {
  await Promise.all([...children].map(stop));
}
