/**
 * Relays the chosen upstream response to the client. JSON bodies are small and relayed whole, byte
 * for byte; SSE streams go through an SseTap chunk by chunk with backpressure (pipe), and a client
 * that disconnects destroys the upstream body, which makes undici abort the upstream request.
 */
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../config.js';
import { upstreamUnavailable } from '../errors.js';
import { SseTap } from '../streaming/sse-tap.js';
import { usageFromBody, type Usage } from '../usage/usage.js';

export interface RelayOutcome {
  /** The status the client received. */
  status: number;
  usage: Usage | undefined;
  /** For streams: the upstream reached its natural end. Non-streamed bodies are always complete. */
  completed: boolean;
  stream: boolean;
  /** Completion text the client received, when usage must be estimated (cut streams). */
  streamedText?: () => string;
}

export interface RelayOptions {
  endpoint: Endpoint;
  stripUsageChunk: boolean;
  /** Streams: the first bytes are on their way to the client. */
  onFirstByte(): void;
  onDone(outcome: RelayOutcome): void;
}

export function isEventStream(response: Dispatcher.ResponseData): boolean {
  const type = response.headers['content-type'];
  return typeof type === 'string' && type.startsWith('text/event-stream');
}

export async function relayJson(reply: FastifyReply, response: Dispatcher.ResponseData, options: RelayOptions): Promise<void> {
  let body: Buffer;
  try {
    body = await readWhole(response.body);
  } catch (err) {
    // The upstream broke off mid-body. Nothing has reached the client yet, so it gets a 502 (an
    // upstream failure), not the 500 of a gateway bug; the request is still settled once.
    options.onDone({ status: 502, usage: undefined, completed: false, stream: false });
    throw upstreamUnavailable('The upstream provider broke off its answer before it was complete. Please retry.', err);
  }
  reply.send(body);
  const ok = response.statusCode < 300;
  options.onDone({ status: response.statusCode, usage: ok ? usageFromBody(body) : undefined, completed: true, stream: false });
}

/**
 * The whole body as one Buffer. undici's own arrayBuffer() copies even a single chunk into a fresh
 * ArrayBuffer (an unpooled allocation per request); a small answer arrives as one chunk, used as is.
 */
function readWhole(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('error', reject);
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
}

export function relayStream(reply: FastifyReply, response: Dispatcher.ResponseData, options: RelayOptions): void {
  const upstream = response.body;
  const tap = new SseTap({ endpoint: options.endpoint, stripUsageChunk: options.stripUsageChunk });
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    if (!upstream.destroyed) upstream.destroy(); // client gone: abort the upstream request
    options.onDone({ status: response.statusCode, usage: tap.usage, completed: tap.completed, stream: true, streamedText: () => tap.streamedText() });
  };
  upstream.on('error', () => tap.endWithError());
  tap.on('end', finish);
  tap.on('close', finish);
  upstream.pipe(tap);
  // A second 'data' listener on an already piped stream is safe: pipe keeps control of the flow.
  upstream.once('data', () => options.onFirstByte());
  reply.send(tap);
}
