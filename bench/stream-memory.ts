/**
 * `npm run bench:stream-memory`: the heap an open stream holds, by the size of its prompt. The
 * full bench (run.ts) measures heap per stream with a one-line prompt; real streams carry
 * conversations of tens of kilobytes, and whatever holds the request for the stream's life holds its
 * prompt too (about twice its UTF-8 size as parsed strings). For each prompt size, the bare proxy and
 * tollgate (memory stores, limits on) each get BENCH_MEMORY_STREAMS concurrent chat streams that the
 * mock keeps open (first event at once, the next a minute later); once every stream has its first
 * byte, the target's heap after GC (probe.ts) minus its heap before, per open stream
 * (slow-streams.ts). The streams are then aborted. The first size runs once more first,
 * unreported. Bodies: bodies.ts chatHistory, mixed scripts.
 * Knobs: BENCH_MEMORY_STREAMS (300), BENCH_MEMORY_SIZES_KB (comma-separated, default 0,40,160; 0 is
 * the one-line prompt), BENCH_RESULTS (default bench/results-stream-memory.md).
 */
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { chatHistory, streamBody, tollgateHeaders } from './bodies.js';
import { loadNote, machine, table } from './markdown.js';
import { here, start, stopAll } from './processes.js';
import { slowStreams } from './slow-streams.js';

const STREAMS = Math.max(1, Number(process.env.BENCH_MEMORY_STREAMS) || 300);
const SIZES_KB = (process.env.BENCH_MEMORY_SIZES_KB ?? '0,40,160').split(',').map(Number);
const TARGETS = { bare: 'bare-proxy.ts', tollgate: 'tollgate-server.ts' } as const;
/** Long enough for every stream to be opened and sampled on a loaded host; then they are aborted. */
const DEADLINE_MS = 20_000;
/** The mock's pacing: the first event at once, the next after the streams were sampled and aborted. */
const HOLD_OPEN = { gapMs: 60_000, spreadMs: 1 };

/** A streaming chat request whose prompt is about `kb` KB of JSON (0: the one-line prompt). */
function streamingPrompt(kb: number): string {
  if (kb === 0) return streamBody(true);
  const history = JSON.parse(chatHistory(kb)) as Record<string, unknown>;
  return JSON.stringify({ ...history, stream: true, stream_options: { include_usage: true } });
}

async function pace(mockOrigin: string, settings: object): Promise<void> {
  const response = await request(`${mockOrigin}/bench/pace`, { method: 'POST', body: JSON.stringify(settings) });
  await response.body.text();
}

async function main(): Promise<string> {
  const notes = [loadNote()].filter(Boolean);
  const mock = await start('mock-upstream.ts', []);
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const targets = await Promise.all(
    Object.entries(TARGETS).map(async ([name, script]) => {
      const started = await start(script, [mockOrigin], { nodeArgs: ['--expose-gc'] });
      return { name, probe: started.probe, target: { origin: `http://127.0.0.1:${started.port}`, headers: tollgateHeaders } };
    }),
  );
  await pace(mockOrigin, HOLD_OPEN);
  const rows: string[][] = [];
  // A first run, not reported: upstream connections and lazily built state would count against the
  // first size otherwise (the heap before it does not hold them yet).
  for (const [i, kb] of [SIZES_KB[0]!, ...SIZES_KB].entries()) {
    const body = streamingPrompt(kb);
    const row = [kb === 0 ? `one line (${body.length} B)` : `${(body.length / 1024).toFixed(0)} KB`];
    for (const { name, probe, target } of targets) {
      console.error(`${name}: ${STREAMS} open streams, ${row[0]} prompt`);
      const options = { count: STREAMS, rampMs: 500, deadlineMs: DEADLINE_MS, body, path: '/v1/chat/completions' };
      const result = await slowStreams(target, probe, options);
      if (result.late > 0) {
        notes.push(`${name}, ${row[0]}: ${result.late} streams had no first byte; sampled ${result.openAtSample} open`);
      }
      row.push(`${(result.heapPerStream / 1024).toFixed(1)} KB`);
    }
    if (i > 0) rows.push(row);
  }
  return [
    `# Heap per open stream by prompt size — ${new Date().toISOString()}`,
    '',
    table(['prompt (request body)', ...Object.keys(TARGETS)], rows),
    '',
    `${machine()} ${STREAMS} concurrent chat streams per cell, held open by the mock; heap after GC with`,
    'every stream open, minus before, per stream.',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

try {
  const report = await main();
  const file = process.env.BENCH_RESULTS || here('results-stream-memory.md');
  writeFileSync(file, report);
  console.log(report);
} finally {
  await stopAll();
}
