/**
 * `npm run bench:bridge`: what the Responses-over-chat bridge costs (issue 14: "a bridged stream's
 * first byte within 1 ms of a native stream through tollgate, and its CPU per chunk"). One mock
 * upstream serves the same text in the same number of content chunks as a Responses stream and as a
 * chat stream; one tollgate (tollgate-server.ts, limits on) serves it as:
 *  - `native`: a Responses stream relayed as it is (alias BENCH_MODEL, a provider serving both APIs);
 *  - `bridged`: the same request to a provider with `endpoints: [chat]` (BENCH_BRIDGED_MODEL): tollgate
 *    asks for a chat stream and translates each chunk into Responses events;
 *  - `chat`: for context, a native chat stream with include_usage (relayed as it is too);
 * and the bare undici proxy (bare-proxy.ts) relays the native Responses stream: the floor.
 * Each round: first byte, sequential streams of the three tollgate kinds interleaved (the order
 * rotating), with the mock sending the first event alone; then CPU per chunk: BENCH_BRIDGE_CONCURRENCY
 * streams at a time of each kind, the mock pacing every stream's events on a shared tick, and the CPU
 * time the serving process spent (from /proc) divided by the content chunks relayed.
 * Knobs (see bench/README.md): BENCH_ROUNDS, BENCH_STREAM_CHUNKS, BENCH_BRIDGE_REQUESTS,
 * BENCH_BRIDGE_CONCURRENCY, BENCH_BRIDGE_STREAMS, BENCH_BRIDGE_GAP_MS, BENCH_CPU_PROF.
 */
import { writeFileSync } from 'node:fs';
import { Client } from 'undici';
import { BENCH_BRIDGED_MODEL, BENCH_KEY, BENCH_MODEL, streamWords } from './common.js';
import { loadNote, machine, table } from './markdown.js';
import { cpuSeconds, median, percentile, timeStream, type Target, type TimedStream } from './measure.js';
import { here, start, stopAll } from './processes.js';

const positive = (name: string, fallback: number) => Math.max(1, Number(process.env[name]) || fallback);
const ROUNDS = positive('BENCH_ROUNDS', 8);
const CHUNKS = positive('BENCH_STREAM_CHUNKS', 100);
/** Sequential streams per kind per round, for the first byte. */
const REQUESTS = positive('BENCH_BRIDGE_REQUESTS', 200);
/** Streams at a time in the CPU runs... */
const CONCURRENCY = positive('BENCH_BRIDGE_CONCURRENCY', 16);
/** ...each connection running this many, one after the other, per kind per round. */
const STREAMS = positive('BENCH_BRIDGE_STREAMS', 8);
/**
 * The mock's tick. In the CPU runs every stream gets its next event each tick, so a proxy reads the
 * events one by one, as from a model, instead of a whole stream in a few reads (which would make
 * per-read costs vanish and flatter whatever parses every event); in the first-byte runs the rest of
 * a stream follows its first event on the next tick.
 */
const GAP_MS = positive('BENCH_BRIDGE_GAP_MS', 2);
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
/**
 * The first-byte runs: the first event alone (as a model's first token), the rest of the stream on
 * the next tick. Sent all at once, the proxy reads many events in one go and, since Node's HTTP
 * response holds the writes of one tick until the next (it corks the socket), sends the first byte
 * only once it has relayed, or translated, all of them: that measures the whole stream.
 */
const FIRST_ALONE = 0;
/** The CPU runs: one event per stream per tick. */
const ONE_BY_ONE = 1;

const WORDS = streamWords(CHUNKS);
const TEXT = WORDS.join('');
const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };
const input = 'Say hello to the benchmark.';

/** One way of streaming the mock's answer through a proxy. */
interface Kind {
  name: string;
  what: string;
  target: Target;
  path: string;
  body: string;
  /** The body arrived whole, every content chunk in it. */
  isWhole(text: string): boolean;
}

const responsesBody = (model: string) => JSON.stringify({ model, input, stream: true });
const chatBody = JSON.stringify({
  model: BENCH_MODEL,
  messages: [{ role: 'user', content: input }],
  stream: true,
  stream_options: { include_usage: true },
});

/** A Responses stream: every delta, then `response.completed` with the whole text. */
function isWholeResponsesStream(text: string): boolean {
  const deltas = text.split('event: response.output_text.delta\n').length - 1;
  const last = text.slice(text.lastIndexOf('event: '));
  if (deltas !== CHUNKS || !last.startsWith('event: response.completed\n')) return false;
  return JSON.parse(last.slice(last.indexOf('{'))).response?.output?.[0]?.content?.[0]?.text === TEXT;
}

/** A chat stream with include_usage: every content chunk, the usage chunk, [DONE]. */
function isWholeChatStream(text: string): boolean {
  const deltas = text.split('"delta":{"content":').length - 1;
  return deltas === CHUNKS && text.includes('"choices":[],') && text.endsWith('data: [DONE]\n\n');
}

function kinds(tollgate: Target, bare: Target): { firstByte: Kind[]; cpu: Kind[] } {
  const native: Kind = {
    name: 'native',
    what: 'Responses stream, relayed',
    target: tollgate,
    path: '/v1/responses',
    body: responsesBody(BENCH_MODEL),
    isWhole: isWholeResponsesStream,
  };
  const bridged: Kind = {
    ...native,
    name: 'bridged',
    what: 'Responses over a chat-only provider',
    body: responsesBody(BENCH_BRIDGED_MODEL),
  };
  const chat: Kind = {
    name: 'chat',
    what: 'chat stream with include_usage, relayed',
    target: tollgate,
    path: '/v1/chat/completions',
    body: chatBody,
    isWhole: isWholeChatStream,
  };
  const floor: Kind = { ...native, name: 'bare', what: 'bare undici proxy, Responses stream', target: bare };
  return { firstByte: [native, bridged, chat], cpu: [native, bridged, chat, floor] };
}

// ---- measurement -----------------------------------------------------------------------------
/** One keep-alive connection per (kind, slot), reused by every round; a stream stuck for 30 s fails the bench. */
const clients = new Map<string, Client>();
function clientFor(kind: Kind, slot: number): Client {
  const key = `${kind.name}/${slot}`;
  let client = clients.get(key);
  if (!client) {
    client = new Client(kind.target.origin, { keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    clients.set(key, client);
  }
  return client;
}

async function stream(kind: Kind, slot: number): Promise<TimedStream> {
  const timed = await timeStream(clientFor(kind, slot), kind.path, kind.target.headers, kind.body);
  if (timed.status !== 200 || !kind.isWhole(timed.text)) {
    throw new Error(`${kind.name}: unexpected stream (status ${timed.status}): …${timed.text.slice(-300)}`);
  }
  return timed;
}

/**
 * How the mock sends streams from now on (mock-upstream.ts): the first event at once, then `perTick`
 * events (0: all the rest) on each GAP_MS tick.
 */
async function pace(mock: string, perTick: number): Promise<void> {
  const client = new Client(mock);
  const body = JSON.stringify({ gapMs: GAP_MS, perTick });
  try {
    const response = await client.request({ method: 'POST', path: '/bench/pace', body });
    await response.body.dump();
    if (response.statusCode !== 204) throw new Error(`the mock answered ${response.statusCode} to /bench/pace`);
  } finally {
    await client.close();
  }
}

/**
 * `count` rotations of the kinds, one stream at a time: kind k goes k-th in rotation 0, (k-1)-th in
 * rotation 1…, so whatever runs before or after one stream (a GC, the tail of the last one's
 * bookkeeping) falls on every kind alike. `pairs` gets bridged − native of each rotation.
 */
async function firstBytes(list: Kind[], count: number, into: Results): Promise<void> {
  for (let i = 0; i < count; i++) {
    const ttfb = new Map<string, number>();
    for (let j = 0; j < list.length; j++) {
      const kind = list[(i + j) % list.length]!;
      ttfb.set(kind.name, (await stream(kind, 0)).ttfb);
    }
    for (const [name, ms] of ttfb) into.ttfb.get(name)!.push(ms);
    into.pairs.push(ttfb.get('bridged')! - ttfb.get('native')!);
  }
}

/** CONCURRENCY connections each streaming STREAMS times: the serving process's CPU µs per content chunk. */
async function cpuPerChunk(kind: Kind): Promise<number> {
  const before = cpuSeconds(kind.target.pid);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, slot) => {
      for (let i = 0; i < STREAMS; i++) await stream(kind, slot);
    }),
  );
  const seconds = cpuSeconds(kind.target.pid) - before;
  return (seconds * 1e6) / (CONCURRENCY * STREAMS * CHUNKS);
}

interface Results {
  /** ms to the first body byte, by kind. */
  ttfb: Map<string, number[]>;
  /** bridged − native per rotation (ms). */
  pairs: number[];
  /** µs per chunk, one per round, by kind. */
  cpu: Map<string, number[]>;
}

function emptyResults(firstByte: Kind[], cpu: Kind[]): Results {
  return {
    ttfb: new Map(firstByte.map((k) => [k.name, []])),
    pairs: [],
    cpu: new Map(cpu.map((k) => [k.name, []])),
  };
}

const log = (message: string) => console.error(`[bench:bridge] ${message}`);

async function main(): Promise<{ results: Results; firstByte: Kind[]; cpu: Kind[] }> {
  const env = { BENCH_STREAM_CHUNKS: String(CHUNKS) };
  const mock = await start('mock-upstream.ts', [], { env });
  const mockOrigin = `http://127.0.0.1:${mock.port}`;
  const serve = async (script: string): Promise<Target> => {
    const { child, port } = await start(script, [mockOrigin], { env, cpuProfile: CPU_PROF });
    return { origin: `http://127.0.0.1:${port}`, headers, pid: child.pid };
  };
  const { firstByte, cpu } = kinds(await serve('tollgate-server.ts'), await serve('bare-proxy.ts'));
  const results = emptyResults(firstByte, cpu);
  log('warm-up');
  await pace(mockOrigin, FIRST_ALONE);
  await firstBytes(firstByte, REQUESTS, emptyResults(firstByte, cpu));
  await pace(mockOrigin, ONE_BY_ONE);
  for (const kind of cpu) await cpuPerChunk(kind);
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round}/${ROUNDS}: first byte ${REQUESTS}×${firstByte.length}, ` +
      `CPU ${CONCURRENCY}×${STREAMS} streams × ${cpu.length}`);
    await pace(mockOrigin, FIRST_ALONE);
    await firstBytes(firstByte, REQUESTS, results);
    await pace(mockOrigin, ONE_BY_ONE);
    // Rotated like the first-byte kinds: drift within a round hits no kind always first or always last.
    for (let k = 0; k < cpu.length; k++) {
      const kind = cpu[(round + k) % cpu.length]!;
      results.cpu.get(kind.name)!.push(await cpuPerChunk(kind));
    }
  }
  return { results, firstByte, cpu };
}

// ---- report ----------------------------------------------------------------------------------
const ms = (v: number) => `${v.toFixed(3)} ms`;
const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms`;
const us = (v: number) => `${v.toFixed(2)} µs`;
const times = (v: number) => `${v.toFixed(2)}×`;

function report({ results, firstByte, cpu }: Awaited<ReturnType<typeof main>>, notes: string[]): string {
  const ttfb = (name: string, p: number) => percentile(results.ttfb.get(name)!, p);
  const firstByteRows = firstByte.map((k) => [
    k.name,
    k.what,
    ms(ttfb(k.name, 50)),
    ms(ttfb(k.name, 90)),
    signed(ttfb(k.name, 50) - ttfb('native', 50)),
    signed(ttfb(k.name, 90) - ttfb('native', 90)),
  ]);
  const perChunk = (name: string) => median(results.cpu.get(name)!);
  // A ratio of two runs of the same round, seconds apart, cancels most of the box's drift.
  const paired = (a: string, b: string) => {
    const base = results.cpu.get(b)!;
    return median(results.cpu.get(a)!.map((v, i) => v / base[i]!));
  };
  const cpuRows = cpu.map((k) => [
    k.name,
    k.what,
    us(perChunk(k.name)),
    times(paired(k.name, 'native')),
    times(paired(k.name, 'bare')),
    results.cpu.get(k.name)!.map((v) => v.toFixed(1)).join(', '),
  ]);
  const gap = ttfb('bridged', 50) - ttfb('native', 50);
  const gap90 = ttfb('bridged', 90) - ttfb('native', 90);
  const verdict = (v: number) => (v <= 1 ? 'met' : '**not met**');
  const ratio = paired('bridged', 'native');
  const samples = results.ttfb.get('native')!.length;
  return [
    `# tollgate bridge bench — ${new Date().toISOString()}`,
    '',
    `${machine()} Loopback, unpinned; one mock, one tollgate (tier with all four limit windows, logging ` +
      'silent, in-memory limits, usage and response records), one bare undici proxy, each in its own process. ' +
      `Every stream carries ${CHUNKS} content chunks of the same text (chat: role chunk, ${CHUNKS} content ` +
      `chunks, finish, usage, [DONE]; Responses: ${CHUNKS + 8} events, deltas padded with \`obfuscation\` as ` +
      'OpenAI sends them) and is checked whole. ' +
      `After a warm-up, ${ROUNDS} rounds.`,
    '',
    `First byte: time from sending the request to the first body byte at the client; ${REQUESTS} sequential ` +
      `streams per kind per round (${samples} in all), the kinds interleaved and their order rotating, one ` +
      'keep-alive connection per kind; the mock sends the first event alone and the rest on its next ' +
      `${GAP_MS} ms tick, as a model sends its first token. Percentiles over all rounds.`,
    '',
    table(['kind', 'what', 'median', 'p90', 'median Δ vs native', 'p90 Δ vs native'], firstByteRows),
    '',
    `Bridged − native first byte: **${signed(gap)}** at the median (median of the per-rotation ` +
      `differences ${signed(median(results.pairs))}), ${signed(gap90)} at p90; target within 1 ms: ` +
      `${verdict(gap)} at the median, ${verdict(gap90)} at p90.`,
    '',
    `CPU per chunk: ${CONCURRENCY} streams at a time, ${STREAMS} per connection per kind per round, the mock ` +
      `sending every stream's next event each ${GAP_MS} ms tick (so the proxy reads them one by one, as from ` +
      "a model); user+system CPU of the serving process (tollgate's, or the bare proxy's) from /proc over " +
      `the run, divided by the content chunks relayed (${CONCURRENCY * STREAMS * CHUNKS} per run). It includes ` +
      `each stream's own request work (auth, admission, routing, usage, its record), spread over ${CHUNKS} ` +
      'chunks. CPU/chunk: median of rounds; ratios: median of the per-round ratios.',
    '',
    table(['kind', 'what', 'CPU/chunk', '× native', '× bare', 'per round (µs)'], cpuRows),
    '',
    `Bridged / native CPU per chunk: **${times(ratio)}** (median of the per-round ratios; medians ` +
      `${us(perChunk('bridged'))} vs ${us(perChunk('native'))}: ` +
      `+${us(perChunk('bridged') - perChunk('native'))} per chunk, ` +
      `+${((perChunk('bridged') - perChunk('native')) * CHUNKS / 1000).toFixed(2)} ms per ${CHUNKS}-chunk stream).`,
    ...(notes.length ? ['', ...notes.map((n) => `- ⚠ ${n}`)] : []),
    '',
  ].join('\n');
}

const busy = loadNote();
try {
  const text = report(await main(), busy ? [busy] : []);
  console.log(text);
  writeFileSync(here('results-bridge.md'), text);
} finally {
  await Promise.all([...clients.values()].map((client) => client.close()));
  await stopAll();
}
