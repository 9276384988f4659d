/**
 * Relays the chosen upstream answer to the client. A JSON answer within the buffering bound was read
 * and checked already (forward.ts) and is sent whole; a larger one is sent as it arrives (what was
 * read first, then the rest of the body, with backpressure), its usage found by a streaming scan.
 * SSE streams go through an SseTap chunk by chunk. A client that disconnects destroys the upstream
 * body, which makes undici abort the upstream request.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../openai/endpoint.js';
import { SseTap, type StreamedText } from '../openai/sse-tap.js';
import type { UpstreamAnswer } from '../upstream/forward.js';
import { TopLevelUsageScan } from '../openai/usage-scan.js';
import { normaliseUsage, type Usage } from '../openai/usage.js';

export interface RelayOutcome {
  /** The status the client received. */
  status: number;
  usage: Usage | undefined;
  /** The answer reached its natural end (a stream's [DONE], a large JSON body's last byte). */
  completed: boolean;
  stream: boolean;
  /** Completion text the client received, when usage must be estimated (cut streams). */
  streamedText?: () => StreamedText;
}

export interface RelayOptions {
  endpoint: Endpoint;
  stripUsageChunk: boolean;
  /** Streams: the first bytes are on their way to the client. */
  onFirstByte(): void;
  onDone(outcome: RelayOutcome): void;
}

type JsonAnswer = Exclude<UpstreamAnswer, { kind: 'stream' }>;

export function relayJson(reply: FastifyReply, response: Dispatcher.ResponseData, answer: JsonAnswer, options: RelayOptions): void {
  const status = response.statusCode;
  if (answer.kind === 'whole') {
    reply.send(answer.body);
    const usage = isObject(answer.json) ? normaliseUsage(answer.json.usage) : undefined;
    options.onDone({ status, usage, completed: true, stream: false });
    return;
  }
  const scan = new UsageScanTap(answer.head);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    if (!response.body.destroyed) response.body.destroy(); // client gone: abort the upstream request
    options.onDone({ status, usage: scan.usage(), completed: scan.completed, stream: false });
  };
  // Headers are sent: a body that breaks off now can only end the connection, which the client notices.
  response.body.on('error', (err) => scan.destroy(err));
  scan.on('end', finish);
  scan.on('close', finish);
  response.body.pipe(scan);
  reply.send(scan);
}

/** Passes a large JSON answer through (the part read before deciding to stream it first), scanning for usage. */
class UsageScanTap extends Transform {
  completed = false;
  private readonly scanner = new TopLevelUsageScan();

  constructor(head: Buffer[]) {
    super();
    for (const chunk of head) this.passOn(chunk);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.passOn(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.completed = true;
    callback();
  }

  usage(): Usage | undefined {
    return this.scanner.usage();
  }

  private passOn(chunk: Buffer): void {
    this.scanner.push(chunk);
    this.push(chunk);
  }
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

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
