/**
 * The demo upstream: a small OpenAI-compatible provider on a loopback port chosen at start (port 0),
 * embedded in the demo gateway's process (demo-gateway.ts) so the demo needs no provider key and no
 * network. It serves `POST /v1/chat/completions` and `POST /v1/responses` (streamed or not) and
 * `GET /v1/models`, echoes the last user message (echo.ts), streams one word per event a few
 * milliseconds apart, and answers every error in OpenAI's envelope. It accepts any credential: it
 * listens on 127.0.0.1 only, and only the gateway in its own process is given its address.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientRequest } from '../dialects/dialect.js';
import { unixNow } from '../dialects/responses-answer.js';
import { bodyNotAnObject, GatewayError, internalError, modelNotFound, notFound } from '../errors.js';
import type { Endpoint } from '../openai/endpoint.js';
import { topLevelMembers } from '../openai/json-scan.js';
import { checkBody } from '../openai/request-body.js';
import { chatCompletion, chatStream } from './chat-answer.js';
import { answerTo, DEMO_MODEL } from './echo.js';
import { response, responseStream } from './responses-answer.js';
import type { StreamedAnswer } from './sse-frames.js';

/** Slow enough to watch a stream arrive in a terminal, fast enough that a whole answer takes under a second. */
const DEFAULT_WORD_DELAY_MS = 10;

const ENDPOINTS: Record<string, Endpoint> = {
  'POST /v1/chat/completions': 'chat',
  'POST /v1/responses': 'responses',
};

export interface DemoUpstreamOptions {
  /** Pause before each word of a stream. */
  wordDelayMs?: number;
}

export interface DemoUpstream {
  /** http://127.0.0.1:<port>/v1: what the `demo` provider's baseUrl is set to. */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startDemoUpstream(options: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const wordDelayMs = options.wordDelayMs ?? DEFAULT_WORD_DELAY_MS;
  const startedAt = unixNow();
  const server = http.createServer((req, res) => {
    answer(req, res, wordDelayMs, startedAt).catch((err: unknown) => sendError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the gateway's pooled keep-alive sockets
      }),
  };
}

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  wordDelayMs: number,
  startedAt: number,
): Promise<void> {
  const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
  if (route === 'GET /v1/models') return sendJson(res, 200, modelList(startedAt));
  const endpoint = ENDPOINTS[route];
  if (endpoint === undefined) throw notFound(req.method ?? 'GET', req.url ?? '/');
  const request = await readRequest(req, endpoint);
  if (request.body.model !== DEMO_MODEL) throw modelNotFound(request.body.model);
  const echo = answerTo(request);
  const chat = endpoint === 'chat';
  if (request.body.stream !== true) {
    return sendJson(res, 200, chat ? chatCompletion(request, echo) : response(request, echo));
  }
  await sendStream(res, chat ? chatStream(request, echo) : responseStream(request, echo), wordDelayMs);
}

/** The body checked as the gateway checks a client's (OpenAI's wording for what is missing or wrong). */
async function readRequest(req: http.IncomingMessage, endpoint: Endpoint): Promise<ClientRequest> {
  const json = Buffer.concat(await req.toArray());
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw bodyNotAnObject();
  }
  const members = topLevelMembers(json)?.members ?? null;
  return { endpoint, body: checkBody(endpoint, parsed, members), json, members: members ?? [] };
}

function modelList(created: number): object {
  return { object: 'list', data: [{ id: DEMO_MODEL, object: 'model', created, owned_by: 'tollgate-demo' }] };
}

async function sendStream(res: http.ServerResponse, events: StreamedAnswer, wordDelayMs: number): Promise<void> {
  let gone = false;
  res.once('close', () => (gone = true));
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(events.head.join(''));
  for (const word of events.words) {
    await sleep(wordDelayMs);
    if (gone) return; // the gateway hung up: its client went away
    res.write(word);
  }
  res.end(events.tail.join(''));
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendError(res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) return void res.destroy(); // mid-stream: the gateway reports the interruption
  const error = err instanceof GatewayError ? err : internalError();
  sendJson(res, error.status, error.toBody());
}
