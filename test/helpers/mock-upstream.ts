/**
 * A realistic fake OpenAI upstream over real HTTP (127.0.0.1, random port) for gateway tests.
 * Wire shapes follow OpenAI's: chat completions and chunks, Responses objects and their stream events, error envelopes.
 *
 * Deterministic usage numbers (what tests can compute):
 *  - The reply text is split by wordChunks(): each chunk is one word with its LEADING whitespace
 *    ("Hello", " from", " the", …), so chunks.join('') === text. One word chunk = one completion token.
 *  - Visible chunks are capped at max_completion_tokens ?? max_tokens (chat) or max_output_tokens (responses);
 *    when the cap bites, finish_reason is 'length' / the response status is 'incomplete'.
 *  - prompt_tokens = input_tokens = options.promptTokens (default 12); cached_tokens = options.cachedTokens (0).
 *  - completion_tokens = output_tokens = visible chunks + options.reasoningTokens (0): as on OpenAI, reasoning
 *    tokens are part of the completion count. total_tokens = prompt + completion.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTick } from 'node:timers/promises';
import { isJsonObject, type JsonObject } from './json.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: JsonObject; // the members of a JSON object body; none when the body is not one
  text: string; // the body as received
  aborted: boolean; // the client closed the connection before the mock finished responding
}
export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'cut'; afterChunks: number }
  | { kind: 'slow'; chunkDelayMs: number }
  | { kind: 'hang' }
  | { kind: 'destroy' }
  /** Exactly these bytes (a truncated JSON 200, a `{"detail": ...}` error, plain text). */
  | { kind: 'raw'; status: number; text: string; contentType?: string }
  /** A chat answer of about `bytes` bytes (JSON, or SSE when the request streams), generated as it is sent. */
  | { kind: 'huge'; bytes: number };
export interface MockUpstreamOptions {
  text?: string;
  promptTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}
export interface MockUpstream {
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  /** A function may answer later (a promise), e.g. to hold every answer until some requests arrived. */
  behave(b: Behaviour | ((req: RecordedRequest) => Behaviour | Promise<Behaviour>)): void;
  waitForAbort(timeoutMs?: number): Promise<RecordedRequest>;
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_TEXT = 'Hello from the mock upstream.';
export const DEFAULT_PROMPT_TOKENS = 12;
export const MOCK_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini'];

/** Word chunks with leading whitespace; trailing whitespace sticks to the last chunk. */
export function wordChunks(text: string): string[] {
  const chunks: string[] = text.match(/\s*\S+/g) ?? [];
  const tail = text.slice(chunks.join('').length);
  if (tail && chunks.length) chunks[chunks.length - 1] += tail;
  else if (tail) chunks.push(tail);
  return chunks;
}

type Settings = Required<MockUpstreamOptions>;
interface Counts { prompt: number; cached: number; reasoning: number; completion: number }
interface Plan { chunks: string[]; truncated: boolean; counts: Counts }

function plan(s: Settings, limit: unknown): Plan {
  let chunks = wordChunks(s.text);
  const truncated = typeof limit === 'number' && limit < chunks.length;
  if (truncated) chunks = chunks.slice(0, Math.max(0, limit));
  const counts = {
    prompt: s.promptTokens,
    cached: s.cachedTokens,
    reasoning: s.reasoningTokens,
    completion: chunks.length + s.reasoningTokens,
  };
  return { chunks, truncated, counts };
}

const chatUsage = (c: Counts) => ({
  prompt_tokens: c.prompt,
  completion_tokens: c.completion,
  total_tokens: c.prompt + c.completion,
  prompt_tokens_details: { cached_tokens: c.cached, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: c.reasoning,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
});
const responsesUsage = (c: Counts) => ({
  input_tokens: c.prompt,
  input_tokens_details: { cached_tokens: c.cached },
  output_tokens: c.completion,
  output_tokens_details: { reasoning_tokens: c.reasoning },
  total_tokens: c.prompt + c.completion,
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const unixNow = () => Math.floor(Date.now() / 1000);
/** A chat stream that asks for the usage-only chunk before [DONE]. */
const asksForUsage = (body: JsonObject) =>
  isJsonObject(body.stream_options) && body.stream_options.include_usage === true;
const apiError = (message: string, type: string, code: string | null) => ({
  error: { message, type, param: null, code },
});

/** One in-flight exchange: the recorded request plus helpers that stop quietly once the socket is gone. */
class Exchange {
  closed = false;
  selfClosed = false; // the mock cut the connection itself: not a client abort
  readonly requestId = `req_${hex(16)}`;
  readonly started = Date.now();
  private readonly whenClosed: Promise<void>;
  constructor(readonly rec: RecordedRequest, readonly res: http.ServerResponse) {
    // One shared promise rather than a 'close' listener per chunk (which would trip MaxListenersExceeded).
    this.whenClosed = new Promise((resolve) => res.once('close', () => { this.closed = true; resolve(); }));
  }

  get model(): string { return typeof this.rec.body.model === 'string' ? this.rec.body.model : 'gpt-4o-mini'; }
  baseHeaders(contentType: string): Record<string, string> {
    return {
      'content-type': contentType,
      'x-request-id': this.requestId,
      'openai-processing-ms': String(Date.now() - this.started),
      'openai-version': '2020-10-01',
    };
  }

  /** Resolves once the bytes reached the kernel (so a later destroy cannot drop them) or the socket closed. */
  send(data: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => this.res.write(data, () => resolve())), this.whenClosed]);
  }

  /** A timer that ends early when the socket closes, so close() never waits on it. */
  pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
    return Promise.race([elapsed, this.whenClosed]).finally(() => clearTimeout(timer));
  }

  destroy(): void { this.selfClosed = true; this.res.socket?.destroy(); }
  json(status: number, body: unknown, extra: Record<string, string> = {}): void {
    if (this.closed) return;
    this.res.writeHead(status, { ...this.baseHeaders('application/json'), ...extra }).end(JSON.stringify(body));
  }
}

/** A frame is one SSE event; 'content' frames carry reply text and are what 'cut' counts. */
interface Frame { data: string; role: 'head' | 'content' | 'tail' }

async function streamFrames(x: Exchange, frames: Frame[], b: Behaviour): Promise<void> {
  x.res.writeHead(200, {
    ...x.baseHeaders('text/event-stream; charset=utf-8'),
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  x.res.flushHeaders(); // OpenAI sends headers before the first token
  let sentContent = 0;
  for (const [i, frame] of frames.entries()) {
    if (x.closed) return;
    if (b.kind === 'cut' && frame.role !== 'head' && sentContent >= b.afterChunks) return x.destroy();
    if (b.kind === 'slow' && i > 0) await x.pause(b.chunkDelayMs);
    else await nextTick(); // separate writes, so byte-for-byte passthrough is observable
    await x.send(frame.data);
    if (frame.role === 'content') sentContent++;
  }
  if (!x.closed) x.res.end();
}

/** Non-stream answer; 'slow' delays the whole response (like a real non-stream call), 'cut' sends half the body. */
async function answerJson(x: Exchange, body: unknown, b: Behaviour): Promise<void> {
  if (b.kind === 'slow') await x.pause(b.chunkDelayMs);
  if (x.closed) return;
  const text = JSON.stringify(body);
  if (b.kind !== 'cut') return x.json(200, body);
  x.res.writeHead(200, { ...x.baseHeaders('application/json'), 'content-length': String(Buffer.byteLength(text)) });
  await x.send(text.slice(0, Math.floor(text.length / 2)));
  x.destroy();
}

function chatCompletions(x: Exchange, s: Settings, b: Behaviour): Promise<void> {
  const body = x.rec.body;
  const p = plan(s, body.max_completion_tokens ?? body.max_tokens);
  // OpenAI sends service_tier on the answer and on every chunk alike.
  const base = {
    id: `chatcmpl-${hex(12)}`,
    created: unixNow(),
    model: x.model,
    system_fingerprint: null,
    service_tier: 'default',
  };
  const finishReason = p.truncated ? 'length' : 'stop';
  if (body.stream !== true) {
    const message = { role: 'assistant', content: p.chunks.join(''), refusal: null, annotations: [] };
    return answerJson(
      x,
      {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage: chatUsage(p.counts),
      },
      b,
    );
  }
  const withUsage = asksForUsage(body);
  const chunk = (delta: object, finish: string | null, role: Frame['role']): Frame => {
    const choices = [{ index: 0, delta, logprobs: null, finish_reason: finish }];
    const payload = { ...base, object: 'chat.completion.chunk', choices, ...(withUsage ? { usage: null } : {}) };
    return { role, data: `data: ${JSON.stringify(payload)}\n\n` };
  };
  const frames = [
    chunk({ role: 'assistant', content: '', refusal: null }, null, 'head'),
    ...p.chunks.map((c) => chunk({ content: c }, null, 'content')),
    chunk({}, finishReason, 'tail'),
  ];
  // include_usage adds one extra chunk with choices: [] just before [DONE] (§4.3)
  if (withUsage) {
    const usageChunk = { ...base, object: 'chat.completion.chunk', choices: [], usage: chatUsage(p.counts) };
    frames.push({ role: 'tail', data: `data: ${JSON.stringify(usageChunk)}\n\n` });
  }
  frames.push({ role: 'tail', data: 'data: [DONE]\n\n' });
  return streamFrames(x, frames, b);
}

function responses(x: Exchange, s: Settings, b: Behaviour): Promise<void> {
  const body = x.rec.body;
  const p = plan(s, body.max_output_tokens);
  const id = `resp_${hex(24)}`; const msgId = `msg_${hex(24)}`; const createdAt = unixNow();
  const text = p.chunks.join('');
  const finalStatus = p.truncated ? 'incomplete' : 'completed';
  const part = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
  const item = { id: msgId, type: 'message', status: finalStatus, role: 'assistant', content: [part(text)] };
  const response = (status: string, output: unknown[], usage: unknown) => ({
    id,
    object: 'response',
    created_at: createdAt,
    status,
    completed_at: status === 'in_progress' ? null : unixNow(),
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: x.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: body.metadata ?? {},
  });
  const final = response(finalStatus, [item], responsesUsage(p.counts));
  if (body.stream !== true) return answerJson(x, final, b);

  let seq = 0; // sequence_number starts at 0 and counts every event (§5.4)
  const event = (type: string, payload: object, role: Frame['role']): Frame =>
    ({ role, data: `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n` });
  const at = { item_id: msgId, output_index: 0, content_index: 0 };
  const frames = [
    event('response.created', { response: response('in_progress', [], null) }, 'head'),
    event('response.in_progress', { response: response('in_progress', [], null) }, 'head'),
    event(
      'response.output_item.added',
      { output_index: 0, item: { ...item, status: 'in_progress', content: [] } },
      'head',
    ),
    event('response.content_part.added', { ...at, part: part('') }, 'head'),
    ...p.chunks.map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] }, 'content')),
    event('response.output_text.done', { ...at, text, logprobs: [] }, 'tail'),
    event('response.content_part.done', { ...at, part: part(text) }, 'tail'),
    event('response.output_item.done', { output_index: 0, item }, 'tail'),
    event(`response.${finalStatus}`, { response: final }, 'tail'), // no [DONE] on Responses streams
  ];
  return streamFrames(x, frames, b);
}

/** Content in 64 KiB pieces, each written once the previous one drained: the mock never holds the answer. */
async function hugeAnswer(x: Exchange, bytes: number): Promise<void> {
  const stream = x.rec.body.stream === true;
  const piece = 'lorem ipsum '.repeat(64 * 1024 / 12);
  const pieces = Math.ceil(bytes / piece.length);
  const usage = chatUsage({ prompt: DEFAULT_PROMPT_TOKENS, cached: 0, reasoning: 0, completion: pieces });
  const base = { id: `chatcmpl-${hex(12)}`, created: unixNow(), model: x.model };
  const write = (data: string) =>
    x.res.write(data) ? Promise.resolve() : new Promise<void>((resolve) => x.res.once('drain', resolve));
  x.res.writeHead(200, x.baseHeaders(stream ? 'text/event-stream; charset=utf-8' : 'application/json'));
  const event = (delta: object) => {
    const chunk = { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  };
  await write(
    stream
      ? event({ role: 'assistant', content: '' })
      : `${JSON.stringify(base).slice(0, -1)},"object":"chat.completion",` +
        '"choices":[{"index":0,"message":{"role":"assistant","content":"',
  );
  for (let i = 0; i < pieces && !x.closed; i++) await write(stream ? event({ content: piece }) : piece);
  if (x.closed) return;
  const withUsage = asksForUsage(x.rec.body);
  if (stream) {
    const usageChunk = { ...base, object: 'chat.completion.chunk', choices: [], usage };
    x.res.end(`${withUsage ? `data: ${JSON.stringify(usageChunk)}\n\n` : ''}data: [DONE]\n\n`);
  } else x.res.end(`"},"finish_reason":"stop"}],"usage":${JSON.stringify(usage)}}`);
}

function models(x: Exchange): void {
  x.json(200, {
    object: 'list',
    data: MOCK_MODELS.map((id) => ({ id, object: 'model', created: 1686935002, owned_by: 'openai' })),
  });
}

/** OpenAI-shaped default error bodies (§2.2); the 401 echoes a masked form of the key it received. */
function defaultErrorBody(status: number, x: Exchange): unknown {
  const key = String(x.rec.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  if (status === 401) return apiError(`Incorrect API key provided: ${key.slice(0, 3)}***${key.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key');
  if (status === 429) {
    return apiError(
      `Rate limit reached for ${x.model} in organization org-mock on requests per min (RPM): ` +
        'Limit 3, Used 3, Requested 1. Please try again in 20s.',
      'requests',
      'rate_limit_exceeded',
    );
  }
  if (status === 404) {
    return apiError(
      `The model \`${x.model}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model_not_found',
    );
  }
  if (status >= 500) {
    return apiError(
      `The server had an error processing your request. (Please include the request ID ${x.requestId} in your email.)`,
      'server_error',
      null,
    );
  }
  return apiError('Invalid request.', 'invalid_request_error', null);
}

async function readBody(req: http.IncomingMessage): Promise<{ text: string; body: JsonObject }> {
  const parts: Buffer[] = [];
  try { for await (const c of req) parts.push(c as Buffer); } catch { /* client went away mid-body */ }
  const text = Buffer.concat(parts).toString('utf8');
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { /* not JSON: the text is all there is */ }
  return { text, body: isJsonObject(parsed) ? parsed : {} };
}

export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const settings: Settings = {
    text: DEFAULT_TEXT,
    promptTokens: DEFAULT_PROMPT_TOKENS,
    cachedTokens: 0,
    reasoningTokens: 0,
    ...options,
  };
  const requests: RecordedRequest[] = [];
  let behaviour: Behaviour | ((req: RecordedRequest) => Behaviour | Promise<Behaviour>) = { kind: 'ok' };
  let closing = false;
  // Aborts not yet claimed by waitForAbort(), and waiters for future ones.
  let unclaimed: RecordedRequest[] = [];
  let waiters: Array<(r: RecordedRequest) => void> = [];
  const sockets = new Set<Socket>();

  const noteAbort = (rec: RecordedRequest) => {
    rec.aborted = true;
    const waiter = waiters.shift();
    if (waiter) waiter(rec); else unclaimed.push(rec);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: req.headers,
      body: {},
      text: '',
      aborted: false,
    };
    requests.push(rec); // recorded before any response byte, body filled in below
    const x = new Exchange(rec, res);
    res.once('close', () => { if (!res.writableFinished && !x.selfClosed && !closing) noteAbort(rec); });
    Object.assign(rec, await readBody(req));
    const b = typeof behaviour === 'function' ? await behaviour(rec) : behaviour;

    if (b.kind === 'hang') return; // never answers; the close handler above notices the client giving up
    if (b.kind === 'destroy') return x.destroy();
    if (b.kind === 'error') return x.json(b.status, b.body ?? defaultErrorBody(b.status, x), b.headers);
    if (b.kind === 'raw') {
      return void res.writeHead(b.status, x.baseHeaders(b.contentType ?? 'application/json')).end(b.text);
    }
    if (b.kind === 'huge') return hugeAnswer(x, b.bytes);
    const route = `${rec.method} ${rec.path}`;
    if (route === 'POST /v1/chat/completions') return chatCompletions(x, settings, b);
    if (route === 'POST /v1/responses') return responses(x, settings, b);
    if (route === 'GET /v1/models') return models(x);
    x.json(404, apiError(`Invalid URL (${route})`, 'invalid_request_error', null));
  }

  const server = http.createServer((req, res) => { handle(req, res).catch(() => res.destroy()); });
  server.on('connection', (s) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    behave(b) { behaviour = b; },
    waitForAbort(timeoutMs = 5000) {
      const ready = unclaimed.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const waiter = (r: RecordedRequest) => { clearTimeout(timer); resolve(r); };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new Error(`no request was aborted within ${timeoutMs}ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    reset() { requests.length = 0; behaviour = { kind: 'ok' }; unclaimed = []; },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy(); // belt and braces: also sockets still mid-request
      await closed;
    },
  };
}
