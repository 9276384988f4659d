/** The measurements: autocannon load runs, 1-connection latencies, timed streams, a process's CPU time. */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { Client, request } from 'undici';

export interface Target {
  /** http://127.0.0.1:port */
  origin: string;
  headers: Record<string, string>;
  /** The process serving it, for its CPU time. */
  pid?: number;
}

const PATH = '/v1/chat/completions';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

export interface LoadResult {
  reqPerSec: number;
  /** Responses autocannon completed (any status). */
  requests: number;
  /** Every response time in ms (fractional: autocannon's own histogram keeps whole ms only). */
  latencies: number[];
  failures: number;
  /** CPU time (user + system) the target process spent per completed request, in µs. */
  cpuPerRequest: number;
}

/** CPU seconds a process has used so far, from /proc (Linux; NaN elsewhere). 100 ticks/s assumed. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15
  } catch {
    return NaN;
  }
}

/** What a load run sends: one fixed body, or a new request (body, header overrides) every time. */
export type Load = string | (() => { body: string; headers?: Record<string, string> });

/**
 * Waits (5 s at most) until the process is idle: a slow target still works through the requests
 * in flight when autocannon stopped, and that work would land in the next target's window.
 */
export async function settle(pid: number | undefined): Promise<void> {
  for (let waited = 0; waited < 5_000; waited += 100) {
    const before = cpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!(cpuSeconds(pid) - before > 0.01)) return;
  }
}

export async function load(target: Target, body: Load, connections: number, duration: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const next = typeof body === 'function' ? body : undefined;
  const fixed = typeof body === 'string' ? body : undefined;
  const run = autocannon({
    url: target.origin + PATH,
    method: 'POST',
    headers: target.headers,
    ...(next
      ? {
          requests: [{
            setupRequest: (request) => {
              const made = next();
              return { ...request, body: made.body, headers: { ...request.headers, ...made.headers } };
            },
          }],
        }
      : { body: fixed }),
    connections,
    duration,
  });
  run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 300) latencies.push(ms);
  });
  const cpuBefore = cpuSeconds(target.pid);
  const result = await run;
  const cpuPerRequest = ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / result.requests.total;
  await settle(target.pid);
  return {
    reqPerSec: result.requests.average,
    requests: result.requests.total,
    latencies,
    failures: result.errors + result.timeouts + result.non2xx,
    cpuPerRequest,
  };
}

export interface StreamTimings {
  ttfb: number[];
  total: number[];
}

/** One streamed request, whole: its status, its body, and the times to its first and last body byte (ms). */
export interface TimedStream {
  status: number;
  text: string;
  ttfb: number;
  total: number;
}

/**
 * One POST on `client`, timed from sending it: TTFB is the time to the first body byte (the first SSE
 * event), total the time to the end of the body.
 */
export async function timeStream(
  client: Client,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<TimedStream> {
  const started = performance.now();
  const response = await client.request({ method: 'POST', path, headers, body });
  let first = 0;
  const parts: Buffer[] = [];
  for await (const part of response.body) {
    if (first === 0) first = performance.now();
    parts.push(part as Buffer);
  }
  const ended = performance.now();
  const text = Buffer.concat(parts).toString('utf8');
  return { status: response.statusCode, text, ttfb: first - started, total: ended - started };
}

/**
 * `count` chat streams one after the other on one keep-alive connection (timeStream). Every stream
 * is checked: it must end with [DONE] and carry the usage chunk exactly when include_usage was asked for.
 */
export async function streams(
  target: Target,
  body: string,
  includeUsage: boolean,
  count: number,
): Promise<StreamTimings> {
  const client = new Client(target.origin, { keepAliveTimeout: 30_000 });
  const timings: StreamTimings = { ttfb: [], total: [] };
  try {
    for (let i = 0; i < count; i++) {
      const { status, text, ttfb, total } = await timeStream(client, PATH, target.headers, body);
      checkStream(status, text, includeUsage);
      timings.ttfb.push(ttfb);
      timings.total.push(total);
    }
  } finally {
    await client.close();
  }
  return timings;
}

function checkStream(status: number, text: string, includeUsage: boolean): void {
  const hasUsageChunk = text.includes('"choices":[],');
  if (status !== 200 || !text.endsWith('data: [DONE]\n\n') || hasUsageChunk !== includeUsage) {
    throw new Error(`unexpected stream (status ${status}, include_usage ${includeUsage}): ${text.slice(0, 300)}…`);
  }
}

/** One request before any load: a target that does not answer 200 with a completion stops the bench. */
export async function sanityCheck(target: Target, body: string): Promise<void> {
  const client = new Client(target.origin);
  try {
    const response = await client.request({ method: 'POST', path: PATH, headers: target.headers, body });
    const text = await response.body.text();
    if (response.statusCode !== 200 || !text.includes('"chat.completion"')) {
      throw new Error(`${target.origin} answered ${response.statusCode}: ${text.slice(0, 300)}`);
    }
  } finally {
    await client.close();
  }
}

// ---- the side channel of a target (probe.ts) -----------------------------------------------------
async function ask(probe: number, method: 'GET' | 'POST', path: string): Promise<number> {
  const response = await request(`http://127.0.0.1:${probe}${path}`, { method });
  return Number(await response.body.text());
}

/** The target's heap after GC, in bytes (NaN without --expose-gc). */
export const heapAfterGc = (probe: number) => ask(probe, 'GET', '/heap');

/** Runs `work` and answers the longest event-loop block of the target meanwhile, in ms. */
export async function loopBlock(probe: number, work: () => Promise<unknown>): Promise<number> {
  await ask(probe, 'POST', '/loop/start');
  await work();
  return ask(probe, 'GET', '/loop/stop');
}
