/**
 * Bench mock upstream: the fastest OpenAI-shaped answer we can give, so the bench measures proxies,
 * not the mock. Every response is precomputed; a request body is parsed only to read `stream` and
 * `stream_options.include_usage` (a usage-only chunk is added when asked, as OpenAI does).
 * Started by run.ts (see common.ts for the port/shutdown protocol).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce } from './common.js';

const STREAM_CHUNKS = Number(process.env.BENCH_STREAM_CHUNKS ?? 20);
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
  for (let i = 1; i < STREAM_CHUNKS; i++) out.push(chunk({ content: ` word${i}` }, null, includeUsage));
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
const STREAM = { plain: streamChunks(false), withUsage: streamChunks(true) };
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(json.length) };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    let body: { stream?: boolean; stream_options?: { include_usage?: boolean } } = {};
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      // not JSON: answer as non-streamed
    }
    if (body.stream !== true) {
      res.writeHead(200, JSON_HEADERS).end(json);
      return;
    }
    res.writeHead(200, SSE_HEADERS);
    for (const part of body.stream_options?.include_usage === true ? STREAM.withUsage : STREAM.plain) res.write(part);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  announce((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    server.close();
  });
});
