/**
 * A chat completion stream, translated into OpenAI's Responses event stream as each chunk arrives
 * (the bridge, responses-over-chat.ts; docs/wire.md §4, §5). Nothing of the answer is held back:
 * - the first chunk opens the response (`response.created`, `response.in_progress`);
 * - content deltas are `response.output_text.delta` of one message item (refusal deltas
 *   `response.refusal.delta`), opened with `response.output_item.added` and
 *   `response.content_part.added`;
 * - each tool call (`delta.tool_calls[].index`) is a function_call item whose argument deltas are
 *   `response.function_call_arguments.delta`. An item closes (its `.done` events) when the next one
 *   starts or the answer ends; argument pieces a provider sends for a call it already left are kept
 *   in the final response only;
 * - the terminal event comes at `[DONE]`, or at the stream's end once a finish_reason was seen, so the
 *   usage chunk that follows finish_reason is in it: `response.completed`, or `response.incomplete`
 *   (length, content_filter), with the Response object responses-answer.ts builds for JSON answers too;
 * - an upstream error chunk is an `error` event (the nested form, docs/wire.md §5.5) and
 *   `response.failed`; a stream that ends without a finish_reason, or breaks off, ends with the
 *   nested `error` event of code `upstream_stream_interrupted`.
 * Every event carries `sequence_number`, from 0, the interruption's included (the bridge numbers
 * the whole stream itself). OpenAI's `obfuscation` padding is not sent.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { isJsonObject } from '../openai/json-object.js';
import { eventData, SseEventSplitter } from '../openai/sse-events.js';
import { settle, STREAM_INTERRUPTED, type KeepResponse } from '../openai/sse-tap.js';
import { TextSample, type StreamedText } from '../openai/text-sample.js';
import { normaliseUsage, type Usage } from '../openai/usage.js';
import { newId } from '../responses/items.js';
import type { ResponseItem, ResponseObject } from '../responses/stored-response.js';
import type { ClientRequest, StreamTap } from './dialect.js';
import {
  functionCallItem,
  lastItemStatus,
  messageItem,
  outputTextPart,
  refusalPart,
  responseObject,
  statusOf,
  unixNow,
  type BridgedAnswer,
} from './responses-answer.js';

type Json = Record<string, unknown>;

/** The content part of a message being streamed. */
interface StreamedPart {
  kind: 'text' | 'refusal';
  text: string;
}

/** The item being streamed: a message (with its content part being streamed) or a function call. */
type OpenItem =
  | { kind: 'message'; id: string; index: number; content: Json[]; part?: StreamedPart }
  | { kind: 'call'; id: string; index: number; chatIndex: unknown; item: ResponseItem };

const TERMINAL_EVENTS = {
  completed: 'response.completed',
  incomplete: 'response.incomplete',
  failed: 'response.failed',
};

export class ChatToResponsesStream extends Transform implements StreamTap {
  usage: Usage | undefined;
  completed = false;
  response: ResponseObject | undefined;
  private readonly splitter = new SseEventSplitter();
  private readonly sample = new TextSample();
  private sequence = 0;
  private readonly answer: BridgedAnswer;
  private started = false;
  /** The terminal event was built, or the stream was ended: later upstream chunks are not translated. */
  private ended = false;
  private open: OpenItem | undefined;
  /** Function call items by their chat index, for argument pieces that come late. */
  private readonly calls = new Map<unknown, ResponseItem>();
  private keepResponse: KeepResponse | undefined;
  /** The terminal event built while reading, pushed once it was kept (when the exchange asked to). */
  private terminal: string | undefined;

  constructor(private readonly request: ClientRequest) {
    super();
    const answer = { id: newId('resp'), createdAt: unixNow(), model: request.body.model };
    this.answer = { ...answer, output: [], finishReason: null, usage: undefined };
  }

  holdTerminalEvent(keep: KeepResponse): void {
    this.keepResponse = keep;
  }

  streamedText(): StreamedText {
    return this.sample.streamedText();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const event of this.splitter.write(chunk).events) {
      if (this.ended) break;
      this.translate(event);
    }
    this.pushTerminal(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.ended && this.answer.finishReason !== null) this.finish();
    else if (!this.ended) this.interrupt();
    this.pushTerminal(callback);
  }

  endWithError(): void {
    if (this.writableEnded || this.destroyed) return;
    if (!this.ended) this.interrupt();
    this.end();
  }

  private pushTerminal(callback: TransformCallback): void {
    const { terminal, response } = this;
    this.terminal = undefined;
    if (terminal === undefined || !response || !this.keepResponse) {
      if (terminal !== undefined) this.push(terminal);
      return callback();
    }
    const pass = () => {
      this.push(terminal);
      callback();
    };
    settle(this.keepResponse, response).then(pass, pass);
  }

  private translate(event: string): void {
    const data = eventData(event);
    if (data === undefined) return;
    if (data === '[DONE]') return this.finish();
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return; // not a chunk: nothing to translate
    }
    if (!isJsonObject(chunk)) return;
    this.start(chunk);
    if (isJsonObject(chunk.error)) return this.fail(chunk.error);
    this.usage = normaliseUsage(chunk.usage) ?? this.usage;
    if (chunk.service_tier !== undefined) this.answer.serviceTier = chunk.service_tier;
    const [choice] = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (!isJsonObject(choice)) return;
    const delta = isJsonObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content !== '') this.contentDelta('text', delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal !== '') this.contentDelta('refusal', delta.refusal);
    for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
      if (isJsonObject(call)) this.toolCallDelta(call);
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
      this.answer.finishReason = choice.finish_reason;
    }
  }

  /** The first chunk opens the response, with the upstream's model and creation time. */
  private start(chunk: Json): void {
    if (this.started) return;
    this.started = true;
    if (typeof chunk.model === 'string') this.answer.model = chunk.model;
    if (typeof chunk.created === 'number') this.answer.createdAt = chunk.created;
    const response = responseObject(this.request, this.answer, 'in_progress');
    this.send('response.created', { response });
    this.send('response.in_progress', { response });
  }

  private contentDelta(kind: 'text' | 'refusal', delta: string): void {
    this.sample.add(delta);
    const message = this.openMessage();
    if (message.part?.kind !== kind) {
      this.closePart(message);
      message.part = { kind, text: '' };
      const part = kind === 'text' ? outputTextPart('') : refusalPart('');
      this.send('response.content_part.added', { ...this.at(message), part });
    }
    message.part.text += delta;
    if (kind === 'text') this.send('response.output_text.delta', { ...this.at(message), delta, logprobs: [] });
    else this.send('response.refusal.delta', { ...this.at(message), delta });
  }

  private openMessage(): Extract<OpenItem, { kind: 'message' }> {
    if (this.open?.kind === 'message') return this.open;
    this.closeItem('completed');
    const message = { kind: 'message' as const, id: newId('msg'), index: this.answer.output.length, content: [] };
    this.open = message;
    const item = messageItem(message.id, 'in_progress', []);
    this.answer.output.push(item);
    this.send('response.output_item.added', { output_index: message.index, item });
    return message;
  }

  private toolCallDelta(call: Json): void {
    const fn = isJsonObject(call.function) ? call.function : {};
    const piece = typeof fn.arguments === 'string' ? fn.arguments : '';
    this.sample.add(piece);
    const known = this.calls.get(call.index);
    if (known && !(this.open?.kind === 'call' && this.open.chatIndex === call.index)) {
      known.arguments += piece; // a call the provider left already: the final response still gets it all
      return;
    }
    const open = known ? this.open as Extract<OpenItem, { kind: 'call' }> : this.openCall(call, fn);
    if (piece === '') return;
    open.item.arguments += piece;
    this.send('response.function_call_arguments.delta', { item_id: open.id, output_index: open.index, delta: piece });
  }

  private openCall(call: Json, fn: Json): Extract<OpenItem, { kind: 'call' }> {
    this.closeItem('completed');
    const id = newId('fc');
    const item = functionCallItem(id, 'in_progress', { callId: call.id, name: fn.name, arguments: '' });
    const open = { kind: 'call' as const, id, index: this.answer.output.length, chatIndex: call.index, item };
    this.open = open;
    this.calls.set(call.index, item);
    this.answer.output.push(item);
    this.send('response.output_item.added', { output_index: open.index, item: { ...item } });
    return open;
  }

  private at(message: Extract<OpenItem, { kind: 'message' }>): Json {
    return { item_id: message.id, output_index: message.index, content_index: message.content.length };
  }

  private closePart(message: Extract<OpenItem, { kind: 'message' }>): void {
    const { part } = message;
    if (!part) return;
    if (part.kind === 'text') {
      this.send('response.output_text.done', { ...this.at(message), text: part.text, logprobs: [] });
    } else {
      this.send('response.refusal.done', { ...this.at(message), refusal: part.text });
    }
    const done = part.kind === 'text' ? outputTextPart(part.text) : refusalPart(part.text);
    this.send('response.content_part.done', { ...this.at(message), part: done });
    message.content.push(done);
    message.part = undefined;
  }

  /** Ends the item being streamed with its `.done` events; its final form replaces it in the output. */
  private closeItem(status: string): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    let item: ResponseItem;
    if (open.kind === 'message') {
      this.closePart(open);
      item = messageItem(open.id, status, open.content);
    } else {
      open.item.status = status;
      item = open.item;
      const done = { item_id: open.id, output_index: open.index, arguments: item.arguments };
      this.send('response.function_call_arguments.done', done);
    }
    this.answer.output[open.index] = item;
    this.send('response.output_item.done', { output_index: open.index, item: { ...item } });
  }

  private finish(): void {
    this.start({}); // a stream of nothing but [DONE] is still a response
    this.closeItem(lastItemStatus(this.answer));
    this.answer.usage = this.usage;
    const status = statusOf(this.answer);
    this.terminate(TERMINAL_EVENTS[status === 'in_progress' ? 'completed' : status]);
  }

  private fail(error: Json): void {
    const code = typeof error.code === 'string' ? error.code : 'server_error';
    const message = typeof error.message === 'string' ? error.message : 'The upstream provider failed.';
    this.closeItem('incomplete');
    this.send('error', { error: { type: error.type ?? 'server_error', code, message, param: error.param ?? null } });
    this.answer.error = { code, message };
    this.terminate(TERMINAL_EVENTS.failed);
  }

  /** Builds the terminal event; _transform or _flush pushes it once it was kept. */
  private terminate(type: string): void {
    this.ended = true;
    this.completed = true;
    this.response = responseObject(this.request, this.answer);
    this.terminal = this.render(type, { response: this.response });
  }

  private interrupt(): void {
    this.ended = true;
    this.send('error', { error: STREAM_INTERRUPTED });
  }

  private send(type: string, payload: Json): void {
    this.push(this.render(type, payload));
  }

  private render(type: string, payload: Json): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...payload })}\n\n`;
  }
}
