/**
 * A Transform that relays an upstream SSE stream and taps usage from it as it passes.
 *
 * Pass-through mode (Responses streams, chat clients that asked for include_usage): every chunk is
 * forwarded the moment it arrives, byte for byte; a decoded copy is scanned on the side. The one
 * exception: once the exchange asked to hold a Responses stream's terminal event (to keep the final
 * response first), the chunk holding it waits for that.
 * Strip mode (chat clients that did not ask for usage): tollgate asked the upstream for the usage
 * chunk, so it is removed again. Events are forwarded whole as soon as their blank line arrives;
 * only the usage-only chunk (`"choices":[]` with a usage object) is dropped.
 *
 * Only events that can carry usage are JSON-parsed; the rest are kept as raw text so a stream that
 * is cut short can still be counted afterwards (`streamedText`), and reduced to their text once a
 * long stream has many (text-sample.ts bounds what is kept).
 * (docs/wire.md §4.3, §5.2; docs/contract.md §7.1)
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { ResponseObject } from '../responses/stored-response.js';
import type { Endpoint } from './endpoint.js';
import { isJsonObject } from './json-object.js';
import { isResponseObject } from './response-object.js';
import { parseData, SseEventSplitter } from './sse-events.js';
import { TextSample, type StreamedText } from './text-sample.js';
import { normaliseUsage, type Usage } from './usage.js';

export type { StreamedText } from './text-sample.js';

/** Whitespace-tolerant: not every OpenAI-compatible upstream writes compact JSON. */
const HAS_USAGE_OBJECT = /"usage":\s*\{/;
const TERMINAL_RESPONSE_EVENT = /"type":\s*"response\.(?:completed|incomplete|failed)"/;
const TERMINAL_RESPONSE_TYPES = new Set<unknown>(['response.completed', 'response.incomplete', 'response.failed']);
/**
 * Raw events are kept until this many, then reduced to the text they carried: a short stream's events
 * are parsed only if it is cut, and a long one (32k output tokens are ~6 MB of events) holds ~4 bytes
 * per token instead of ~200.
 */
const RAW_EVENTS_KEPT = 512;
/** ...or this many characters of them, whichever comes first (an upstream may send huge events). */
const RAW_CHARS_KEPT = 256 * 1024;

/** The error a client's stream ends with when the upstream broke off mid-stream (docs/wire.md §4.5, §5.5). */
export const STREAM_INTERRUPTED = {
  message: 'The upstream provider interrupted the stream. The answer is incomplete; please retry.',
  type: 'server_error',
  param: null,
  code: 'upstream_stream_interrupted',
} as const;

/** Keeps a Responses stream's final response before its terminal event reaches the client. */
export type KeepResponse = (response: ResponseObject) => Promise<void>;

export interface SseTapOptions {
  endpoint: Endpoint;
  stripUsageChunk: boolean;
}

export class SseTap extends Transform {
  usage: Usage | undefined;
  /** Set once the stream reached its natural end ([DONE] or a terminal Responses event). */
  completed = false;
  /** The terminal Responses event's response, once it passed. */
  response: ResponseObject | undefined;
  private readonly splitter = new SseEventSplitter();
  /** Events the client received that may carry completion text, not yet reduced to `sample`. */
  private events: string[] = [];
  private eventChars = 0;
  private readonly sample = new TextSample();
  private keepResponse: KeepResponse | undefined;
  /** The terminal event of the chunk being read, when it must be kept before the chunk is passed on. */
  private toKeep: ResponseObject | undefined;

  constructor(private readonly options: SseTapOptions) {
    super();
  }

  /** On a Responses stream: the chunk with the terminal event waits until `keep` settled. */
  holdTerminalEvent(keep: KeepResponse): void {
    this.keepResponse = keep;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const { events, overlong } = this.splitter.write(chunk);
    for (const event of events) {
      const keep = this.inspect(event);
      if (this.options.stripUsageChunk && keep) this.push(event);
    }
    if (this.options.stripUsageChunk) {
      if (overlong !== undefined) this.push(overlong);
      return callback();
    }
    const response = this.toKeep;
    if (!response || !this.keepResponse) {
      this.push(chunk);
      return callback();
    }
    this.toKeep = undefined;
    const pass = () => {
      this.push(chunk);
      callback();
    };
    // Settled either way: the client gets its answer whether or not it was kept.
    settle(this.keepResponse, response).then(pass, pass);
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.splitter.end();
    if (this.options.stripUsageChunk && rest) this.push(rest);
    callback();
  }

  /**
   * The upstream broke off mid-stream. The client is told with an error event (the SDKs raise on a
   * data object with an `error` key) instead of a silently truncated answer. On Responses it is the
   * nested form, which the SDKs raise on, and carries no sequence_number (docs/wire.md §4.5, §5.5).
   * A half-sent event cannot be completed, so then the stream just ends.
   */
  endWithError(): void {
    if (this.writableEnded || this.destroyed) return;
    if (this.options.stripUsageChunk) this.splitter.discard();
    if (this.splitter.pending === '') this.push(interruptionEvent(this.options.endpoint));
    this.end();
  }

  /** Text the client received (content deltas), for estimating completion tokens of a cut stream. */
  streamedText(): StreamedText {
    this.reduceEvents();
    return this.sample.streamedText();
  }

  private keep(event: string): void {
    this.events.push(event);
    this.eventChars += event.length;
    if (this.events.length >= RAW_EVENTS_KEPT || this.eventChars >= RAW_CHARS_KEPT) this.reduceEvents();
  }

  private reduceEvents(): void {
    for (const event of this.events) {
      collectStreamedText(parseData(event), this.options.endpoint, (text) => this.sample.add(text));
    }
    this.events = [];
    this.eventChars = 0;
  }

  /** Records what the event tells; returns false when the event must not reach the client. */
  private inspect(event: string): boolean {
    if (this.options.endpoint === 'responses') return this.inspectResponsesEvent(event);
    if (event.includes('data: [DONE]')) {
      this.completed = true;
      return true;
    }
    if (!HAS_USAGE_OBJECT.test(event)) {
      this.keep(event);
      return true;
    }
    const data = parseData(event);
    this.usage = normaliseUsage(data?.usage) ?? this.usage; // the chunk's own member, never one nested in it
    // The usage chunk is the one whose choices is an empty array (docs/wire.md §4.3).
    const usageOnly = Array.isArray(data?.choices) && data.choices.length === 0;
    if (!usageOnly) this.keep(event);
    return !usageOnly;
  }

  private inspectResponsesEvent(event: string): boolean {
    // The pattern only spares parsing the other events: it may also match text the client chose (a
    // `metadata` value echoed in response.created), so the parsed event's own type decides.
    const data = TERMINAL_RESPONSE_EVENT.test(event) ? parseData(event) : undefined;
    if (!TERMINAL_RESPONSE_TYPES.has(data?.type)) {
      this.keep(event);
      return true;
    }
    const response = data?.response;
    this.usage = normaliseUsage(isJsonObject(response) ? response.usage : undefined) ?? this.usage;
    if (!this.completed && isResponseObject(response)) {
      this.response = response;
      this.toKeep = response;
    }
    this.completed = true;
    return true;
  }
}

/** `keep`'s promise, also when it throws instead of rejecting. */
export function settle(keep: KeepResponse, response: ResponseObject): Promise<void> {
  return Promise.resolve().then(() => keep(response));
}

function interruptionEvent(endpoint: Endpoint): string {
  const error = STREAM_INTERRUPTED;
  if (endpoint === 'responses') return `event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n`;
  return `data: ${JSON.stringify({ error })}\n\n`;
}

/** Appends the completion text one event carried: content and tool-call argument deltas. */
function collectStreamedText(
  data: Record<string, unknown> | undefined,
  endpoint: Endpoint,
  add: (text: string) => void,
): void {
  if (endpoint === 'responses') {
    if (data?.type === 'response.output_text.delta' && typeof data.delta === 'string') add(data.delta);
    return;
  }
  for (const choice of (data?.choices as Array<{ delta?: Record<string, unknown> }> | undefined) ?? []) {
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string') add(delta.content);
    for (const call of (delta.tool_calls as Array<{ function?: { arguments?: string } }> | undefined) ?? []) {
      if (call.function?.arguments) add(call.function.arguments);
    }
  }
}
