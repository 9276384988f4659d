/**
 * Many concurrent slow streams through one target: `count` chat streams opened over `rampMs` (an
 * open burst of thousands would measure the listen backlog, not the proxy), the mock sending each
 * stream's events on timers of its own (mock-upstream.ts spreadMs), as model streams arrive. For
 * every stream the time from sending the request to its first body byte; once every stream has its
 * first byte (or at 80 % of the deadline), the target's heap after GC (probe.ts) against its heap before
 * the run, divided by the streams open at that moment. Nothing is left running past the deadline:
 * streams still open then are aborted and counted.
 */
import { Pool } from 'undici';
import { heapAfterGc, percentile, type Target } from './measure.js';

export interface SlowStreamsResult {
  count: number;
  /** First-byte times in ms of the streams that had one before the deadline. */
  firstBytes: number[];
  /** Streams with no first byte by the deadline. */
  late: number;
  /** Streams that ended whole ([DONE]). */
  whole: number;
  failures: number;
  /** The first failure's message, for the notes. */
  firstError?: string;
  /** Heap after GC while open, minus before, per open stream, in bytes (NaN without a probe). */
  heapPerStream: number;
  openAtSample: number;
  seconds: number;
}

export interface SlowStreamsOptions {
  count: number;
  rampMs: number;
  deadlineMs: number;
  body: string;
  path: string;
}

export async function slowStreams(
  target: Target,
  probe: number | undefined,
  { count, rampMs, deadlineMs, body, path }: SlowStreamsOptions,
): Promise<SlowStreamsResult> {
  // One connection per stream, as clients of a gateway have; this process only reads bytes.
  const pool = new Pool(target.origin, { connections: count, keepAliveTimeout: 60_000, bodyTimeout: 0 });
  const abort = new AbortController();
  const heapBefore = probe ? await heapAfterGc(probe) : NaN;
  const started = performance.now();
  const firstBytes: number[] = [];
  let whole = 0;
  let failures = 0;
  let firstError: string | undefined;
  let open = 0;
  let allFirst: () => void = () => undefined;
  const everyFirstByte = new Promise<void>((resolve) => { allFirst = resolve; });

  const one = async (i: number) => {
    await new Promise((resolve) => setTimeout(resolve, (i * rampMs) / count));
    const sent = performance.now();
    open++;
    try {
      const { headers } = target;
      const response = await pool.request({ method: 'POST', path, headers, body, signal: abort.signal });
      let tail = '';
      for await (const part of response.body) {
        if (tail === '') {
          firstBytes.push(performance.now() - sent);
          if (firstBytes.length + failures === count) allFirst();
        }
        tail = (tail + (part as Buffer).toString('latin1')).slice(-32);
      }
      if (response.statusCode === 200 && tail.endsWith('data: [DONE]\n\n')) whole++;
      else failures++;
    } catch (err) {
      if (!abort.signal.aborted) {
        failures++;
        firstError ??= (err as Error).message;
        if (firstBytes.length + failures === count) allFirst();
      }
    } finally {
      open--;
    }
  };

  const deadline = setTimeout(() => abort.abort(), deadlineMs);
  const all = Promise.all(Array.from({ length: count }, (_, i) => one(i)));
  // The heap is read once every stream has its first byte, or at 80 % of the deadline if some never
  // do (a pool queueing streams behind whole streams): the streams open then are what it holds.
  let sampleTimer: NodeJS.Timeout | undefined;
  const sampleLate = new Promise((resolve) => { sampleTimer = setTimeout(resolve, deadlineMs * 0.8); });
  await Promise.race([everyFirstByte, all, sampleLate]);
  clearTimeout(sampleTimer);
  const openAtSample = open;
  const heapOpen = probe ? await heapAfterGc(probe) : NaN;
  await all;
  clearTimeout(deadline);
  await pool.destroy();
  return {
    count,
    firstBytes,
    late: count - firstBytes.length,
    whole,
    failures,
    ...(firstError ? { firstError } : {}),
    heapPerStream: (heapOpen - heapBefore) / openAtSample,
    openAtSample,
    seconds: (performance.now() - started) / 1000,
  };
}

/** "p50 / p99" of the first bytes, the late ones counted as later than anything measured. */
export function firstBytePercentiles(result: SlowStreamsResult): { p50: number; p99: number } {
  const all = [...result.firstBytes, ...Array<number>(result.late).fill(Infinity)];
  return { p50: percentile(all, 50), p99: percentile(all, 99) };
}
