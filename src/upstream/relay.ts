/**
 * Relays the chosen upstream answer to the client. A JSON answer within the buffering bound was read
 * and checked already (forward.ts) and is sent whole, as the route's dialect renders it; a larger one
 * is sent as it arrives (what was read first, then the rest of the body, with backpressure), its usage
 * found by a streaming scan. SSE streams go through the dialect's tap chunk by chunk. A client that
 * disconnects destroys the upstream body, which makes undici abort the upstream request.
 *
 * A Responses answer the client asked to store is held at its end until its record is written (`keep`),
 * so a follow-up sent the instant the answer ends finds it (docs/contract.md §5.6).
 *
 * Each relay hands the body to `send` and reports its outcome through `onDone`, which may hear both
 * a stream's end and its close: the caller (src/exchange.ts) acts on the first.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { StreamTap } from '../dialects/dialect.js';
import type { ResponseObject } from '../responses/stored-response.js';
import type { StreamedText } from '../openai/sse-tap.js';
import { TopLevelUsageScan } from '../openai/usage-scan.js';
import type { Usage } from '../openai/usage.js';
import type { UpstreamAnswer, ForwardSuccess } from './forward.js';

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

/** Where a relay sends the client's body, and whom it tells how the answer went. */
export interface RelaySink {
  send(body: Buffer | Readable): void;
  /** Streams: the first bytes are on their way to the client. */
  onFirstByte(): void;
  onDone(outcome: RelayOutcome): void;
  /**
   * Responses answers the client asked to store: called with the final Response object before the
   * answer's last byte leaves, which waits for it (it never rejects).
   */
  keep?(response: ResponseObject): Promise<void>;
}

type JsonAnswer = Exclude<UpstreamAnswer, { kind: 'stream' }>;

/** A JSON answer: sent whole (as the dialect renders it), or streamed past the bound. */
export function relayJson(success: ForwardSuccess, answer: JsonAnswer, sink: RelaySink): void {
  const { response } = success;
  const status = response.statusCode;
  if (answer.kind === 'whole') {
    const rendered = success.route.dialect.clientAnswer(success.request, answer.body, answer.json);
    const deliver = () => {
      sink.send(rendered.body);
      sink.onDone({ status, usage: rendered.usage, completed: true, stream: false });
    };
    if (rendered.response && sink.keep) void sink.keep(rendered.response).then(deliver);
    else deliver();
    return;
  }
  const scan = new UsageScanTap(answer.head);
  const finish = () => {
    if (!response.body.destroyed) response.body.destroy(); // client gone: abort the upstream request
    sink.onDone({ status, usage: scan.usage(), completed: scan.completed, stream: false });
  };
  // Headers are sent: a body that breaks off now can only end the connection, which the client notices.
  response.body.on('error', (err) => scan.destroy(err));
  scan.on('end', finish);
  scan.on('close', finish);
  response.body.pipe(scan);
  sink.send(scan);
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

/** An SSE answer: the upstream stream through the route dialect's tap. */
export function relayStream(success: ForwardSuccess, sink: RelaySink): void {
  const upstream = success.response.body;
  const tap: StreamTap = success.route.dialect.clientStream(success.request);
  if (sink.keep) tap.holdTerminalEvent(sink.keep);
  const finish = () => {
    if (!upstream.destroyed) upstream.destroy(); // client gone: abort the upstream request
    const streamedText = () => tap.streamedText();
    sink.onDone({
      status: success.response.statusCode,
      usage: tap.usage,
      completed: tap.completed,
      stream: true,
      streamedText,
    });
  };
  upstream.on('error', () => tap.endWithError());
  tap.on('end', finish);
  tap.on('close', finish);
  upstream.pipe(tap);
  // A second 'data' listener on an already piped stream is safe: pipe keeps control of the flow.
  upstream.once('data', () => sink.onFirstByte());
  sink.send(tap);
}
