/**
 * A Transform that relays an upstream SSE stream and taps usage from it as it passes.
 *
 * Pass-through mode (Responses streams, chat clients that asked for include_usage): every chunk is
 * forwarded the moment it arrives, byte for byte; a decoded copy is scanned on the side.
 * Strip mode (chat clients that did not ask for usage): tollgate asked the upstream for the usage
 * chunk, so it is removed again. Events are forwarded whole as soon as their blank line arrives;
 * only the usage-only chunk (`"choices":[]` with a usage object) is dropped.
 *
 * Only events that can carry usage are JSON-parsed; the rest are kept as raw text so a stream that
 * is cut short can still be counted afterwards (`streamedText`), and reduced to their text once a
 * long stream has many. What one stream holds is bounded whatever its length: the first
 * SAMPLE_CHARS of completion text are kept (an estimate extrapolates from them), the rest is counted.
 * (docs/wire.md §4.3, §5.2; docs/contract.md §7.1)
 */
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import type { Endpoint } from './endpoint.js';
import { normaliseUsage, type Usage } from './usage.js';

/**
 * SSE events end at a blank line; OpenAI sends LF, some proxies CRLF. The SDK also splits on bare CR line
 * ends; this pattern does not, so such a stream is relayed but its events go unseen (docs/wire.md §4.1).
 */
const EVENT_END = /\r?\n\r?\n/;
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
/** The token estimate counts ~24k characters exactly and extrapolates the rest, so more is not needed. */
const SAMPLE_CHARS = 64 * 1024;
/**
 * An event longer than this (no blank line in 1M characters) is not inspected: in strip mode it is
 * passed on as it is, so a hostile upstream cannot make the tap hold its whole answer.
 */
const MAX_EVENT_CHARS = 1024 * 1024;

/** Completion text the client received: its first SAMPLE_CHARS, and how many characters in all. */
export interface StreamedText {
  sample: string;
  chars: number;
}

export interface SseTapOptions {
  endpoint: Endpoint;
  stripUsageChunk: boolean;
}

export class SseTap extends Transform {
  usage: Usage | undefined;
  /** Set once the stream reached its natural end ([DONE] or a terminal Responses event). */
  completed = false;
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  /** Events the client received that may carry completion text, not yet reduced to `streamed`. */
  private events: string[] = [];
  private eventChars = 0;
  /** Completion text of the events reduced so far, up to SAMPLE_CHARS. */
  private readonly sample: string[] = [];
  private sampleChars = 0;
  private streamedChars = 0;

  constructor(private readonly options: SseTapOptions) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.options.stripUsageChunk) this.push(chunk);
    // Only the new text (and the 3 characters before it, a split "\r\n\r\n") can hold a new event end.
    let from = Math.max(0, this.pending.length - 3);
    this.pending += this.decoder.write(chunk);
    let match: RegExpExecArray | null;
    while ((match = EVENT_END.exec(this.pending.slice(from))) !== null) {
      const end = from + match.index + match[0].length;
      const event = this.pending.slice(0, end);
      this.pending = this.pending.slice(end);
      from = 0;
      const keep = this.inspect(event);
      if (this.options.stripUsageChunk && keep) this.push(event);
    }
    if (this.pending.length > MAX_EVENT_CHARS) {
      if (this.options.stripUsageChunk) this.push(this.pending);
      this.pending = '';
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.pending += this.decoder.end();
    if (this.options.stripUsageChunk && this.pending) this.push(this.pending);
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
    if (this.options.stripUsageChunk) this.pending = '';
    if (this.pending === '') this.push(interruptionEvent(this.options.endpoint));
    this.end();
  }

  /** Text the client received (content deltas), for estimating completion tokens of a cut stream. */
  streamedText(): StreamedText {
    this.reduceEvents();
    return { sample: this.sample.join(''), chars: this.streamedChars };
  }

  private keep(event: string): void {
    this.events.push(event);
    this.eventChars += event.length;
    if (this.events.length >= RAW_EVENTS_KEPT || this.eventChars >= RAW_CHARS_KEPT) this.reduceEvents();
  }

  private reduceEvents(): void {
    for (const event of this.events) {
      collectStreamedText(parseData(event), this.options.endpoint, (text) => this.addText(text));
    }
    this.events = [];
    this.eventChars = 0;
  }

  private addText(text: string): void {
    this.streamedChars += text.length;
    if (this.sampleChars >= SAMPLE_CHARS) return;
    this.sample.push(text);
    this.sampleChars += text.length;
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
    this.usage = normaliseUsage((data?.response as Record<string, unknown> | undefined)?.usage) ?? this.usage;
    this.completed = true;
    return true;
  }
}

function interruptionEvent(endpoint: Endpoint): string {
  const error = {
    message: 'The upstream provider interrupted the stream. The answer is incomplete; please retry.',
    type: 'server_error',
    param: null,
    code: 'upstream_stream_interrupted',
  };
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

/** The JSON of an event's data lines (joined per the SSE spec); undefined if it is not JSON. */
function parseData(event: string): Record<string, unknown> | undefined {
  const lines = event.split(/\r?\n/).filter((line) => line.startsWith('data:'));
  if (lines.length === 0) return undefined;
  const payload = lines.map((line) => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n');
  try {
    return JSON.parse(payload);
  } catch {
    return undefined;
  }
}
