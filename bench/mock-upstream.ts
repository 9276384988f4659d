/**
 * Bench mock upstream: the fastest OpenAI-shaped answer we can give, so the bench measures proxies,
 * not the mock. Every response is precomputed; a request body is parsed only to read `stream` and
 * `stream_options.include_usage` (a usage-only chunk is added when asked, as OpenAI does).
 * `POST /v1/chat/completions` answers a chat completion or its chunk stream, `POST /v1/responses` a
 * Responses event stream of the same text in as many content chunks (`BENCH_STREAM_CHUNKS`), shaped
 * as OpenAI sends it (test/helpers/fixtures/openai-responses-stream.sse), or the Response object.
 * Streams go out at once unless paced: `POST /bench/pace` with `{"gapMs": n, "perTick": k}` makes
 * every stream started after it send its first event at once and then k more on each tick of a
 * shared n-ms timer (k = 0: all the rest on the first tick; n = 0: no pacing), so a proxy reads the
 * first event alone, and with k = 1 every event alone, as it would from a model. With `"spreadMs": s`
 * as well, every stream runs on timers of its own instead, each next event gapMs + [0, s) ms after
 * the previous one: slow model streams (run.ts's concurrent slow streams).
 * Started by run.ts and bridge.ts (see common.ts for the port/shutdown protocol).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, streamWords } from './common.js';

const STREAM_CHUNKS = Number(process.env.BENCH_STREAM_CHUNKS ?? 20);
const WORDS = streamWords(STREAM_CHUNKS);
const id = 'chatcmpl-bench0000000000000000000000';
const created = 1_700_000_000;
const model = 'mock-model';
const usage = { prompt_tokens: 12, completion_tokens: STREAM_CHUNKS, total_tokens: 12 + STREAM_CHUNKS };

const json = Buffer.from(
  JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from the bench mock.', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
    system_fingerprint: 'fp_bench',
  }),
);

const sse = (data: unknown) => Buffer.from(`data: ${JSON.stringify(data)}\n\n`);
const chunk = (delta: object, finish: string | null, withUsage: boolean) =>
  sse({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(withUsage ? { usage: null } : {}),
  });

function streamChunks(includeUsage: boolean): Buffer[] {
  const out = [chunk({ role: 'assistant', content: '', refusal: null }, null, includeUsage)];
  for (const word of WORDS) out.push(chunk({ content: word }, null, includeUsage));
  out.push(chunk({}, 'stop', includeUsage));
  if (includeUsage) {
    out.push(
      sse({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: 'fp_bench',
        choices: [],
        usage,
      }),
    );
  }
  out.push(Buffer.from('data: [DONE]\n\n'));
  return out;
}

// ---- Responses ------------------------------------------------------------------------------
const responseId = 'resp_bench000000000000000000000000000000000000000000';
const messageId = 'msg_bench0000000000000000000000000000000000000000000';
const text = WORDS.join('');
const part = (partText: string) => ({ type: 'output_text', annotations: [], logprobs: [], text: partText });
const message = (status: string, content: object[]) =>
  ({ id: messageId, type: 'message', status, content, role: 'assistant' });
const responseUsage = {
  input_tokens: usage.prompt_tokens,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: usage.completion_tokens,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: usage.total_tokens,
};
/** The Response object in OpenAI's member order and defaults. */
const response = (status: string, output: object[], withUsage: boolean) => ({
  id: responseId,
  object: 'response',
  created_at: created,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  max_tool_calls: null,
  model,
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  prompt_cache_key: null,
  reasoning: { effort: null, summary: null },
  safety_identifier: null,
  service_tier: 'default',
  store: true,
  temperature: 1.0,
  text: { format: { type: 'text' }, verbosity: 'medium' },
  tool_choice: 'auto',
  tools: [],
  top_logprobs: 0,
  top_p: 1.0,
  truncation: 'disabled',
  usage: withUsage ? responseUsage : null,
  user: null,
  metadata: {},
});
const completed = response('completed', [message('completed', [part(text)])], true);
const responseJson = Buffer.from(JSON.stringify(completed));

function responseEvents(): Buffer[] {
  let sequence = 0;
  const event = (type: string, payload: object) =>
    Buffer.from(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`);
  const at = { item_id: messageId, output_index: 0, content_index: 0 };
  const inProgress = response('in_progress', [], false);
  return [
    event('response.created', { response: inProgress }),
    event('response.in_progress', { response: inProgress }),
    event('response.output_item.added', { output_index: 0, item: message('in_progress', []) }),
    event('response.content_part.added', { ...at, part: part('') }),
    // OpenAI pads each delta with `obfuscation` (random characters evening out the event sizes).
    ...WORDS.map((delta) =>
      event('response.output_text.delta', { ...at, delta, logprobs: [], obfuscation: 'bEnChPaD' })),
    event('response.output_text.done', { ...at, text, logprobs: [] }),
    event('response.content_part.done', { ...at, part: part(text) }),
    event('response.output_item.done', { output_index: 0, item: message('completed', [part(text)]) }),
    event('response.completed', { response: completed }),
  ];
}

const STREAM = { plain: streamChunks(false), withUsage: streamChunks(true), responses: responseEvents() };
const jsonAnswer = (body: Buffer) => ({
  body,
  headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
});
const JSON_ANSWER = { chat: jsonAnswer(json), responses: jsonAnswer(responseJson) };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

// ---- pacing ---------------------------------------------------------------------------------
let pacing = { gapMs: 0, perTick: 1, spreadMs: 0 };
/** Paced streams being written: their events, the next one to send, how many go per tick. */
const paced = new Map<http.ServerResponse, { events: Buffer[]; next: number; perTick: number }>();
let ticker: NodeJS.Timeout | undefined;

function sendStream(res: http.ServerResponse, events: Buffer[]): void {
  res.writeHead(200, SSE_HEADERS);
  if (pacing.gapMs === 0) {
    for (const event of events) res.write(event);
    res.end();
    return;
  }
  res.write(events[0]);
  if (pacing.spreadMs > 0) return slowStream(res, events, pacing.gapMs, pacing.spreadMs);
  paced.set(res, { events, next: 1, perTick: pacing.perTick || events.length });
  res.once('close', () => paced.delete(res));
  ticker ??= setInterval(tick, pacing.gapMs);
}

/** The next events of every paced stream; the ticker stops when none is left. */
function tick(): void {
  for (const [res, stream] of paced) {
    const until = Math.min(stream.next + stream.perTick, stream.events.length);
    while (stream.next < until) res.write(stream.events[stream.next++]);
    if (stream.next < stream.events.length) continue;
    paced.delete(res);
    res.end();
  }
  if (paced.size > 0) return;
  clearInterval(ticker);
  ticker = undefined;
}

/** One event every gapMs + [0, spreadMs) ms, on this stream's own timer, until its last. */
function slowStream(res: http.ServerResponse, events: Buffer[], gapMs: number, spreadMs: number): void {
  let next = 1;
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    res.write(events[next++]);
    if (next < events.length) timer = setTimeout(send, gapMs + Math.random() * spreadMs);
    else res.end();
  };
  timer = setTimeout(send, gapMs + Math.random() * spreadMs);
  res.once('close', () => clearTimeout(timer));
}

interface MockBody {
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  gapMs?: number;
  perTick?: number;
  spreadMs?: number;
}

function answer(url: string | undefined, body: MockBody, res: http.ServerResponse): void {
  if (url === '/bench/pace') {
    const whole = (value: unknown) => Math.max(0, Math.floor(Number(value) || 0));
    pacing = { gapMs: whole(body.gapMs), perTick: whole(body.perTick), spreadMs: whole(body.spreadMs) };
    res.writeHead(204).end();
    return;
  }
  const responses = url === '/v1/responses';
  if (body.stream !== true) {
    const { headers, body: answerBody } = JSON_ANSWER[responses ? 'responses' : 'chat'];
    res.writeHead(200, headers).end(answerBody);
    return;
  }
  if (responses) return sendStream(res, STREAM.responses);
  sendStream(res, body.stream_options?.include_usage === true ? STREAM.withUsage : STREAM.plain);
}

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    let body: MockBody = {};
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      // not JSON: answer as non-streamed
    }
    answer(req.url, body, res);
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  announce((server.address() as AddressInfo).port, async () => {
    clearInterval(ticker);
    server.closeAllConnections();
    server.close();
  });
});
