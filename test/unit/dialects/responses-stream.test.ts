/**
 * The bridge's streams: chat chunk streams in (split at awkward places, one byte at a time too), the
 * Responses event stream out, event by event.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'tap';
import type { StreamTap } from '../../../src/dialects/dialect.js';
import { openaiDialect } from '../../../src/dialects/openai.js';
import { responsesOverChat } from '../../../src/dialects/responses-over-chat.js';
import type { ResponseObject } from '../../../src/responses/stored-response.js';
import { responsesRequest } from './bridge-request.js';
import { chunk, completion, textStream, toolCallMessage, toolCallStream } from './chat-chunks.js';

const bridge = responsesOverChat(openaiDialect);
const request = responsesRequest({ model: 'alias', input: 'x', stream: true });

type Event = Record<string, unknown> & { type: string };

/** Feeds the chunks in pieces of `size` bytes (all at once when 0); the tap and the events it wrote. */
async function translate(chunks: string[], size = 0, tap: StreamTap = bridge.clientStream(request)) {
  const bytes = Buffer.from(chunks.join(''));
  const pieces: Buffer[] = [];
  const step = size === 0 ? bytes.length : size;
  for (let at = 0; at < bytes.length; at += step) pieces.push(bytes.subarray(at, at + step));
  const out: Buffer[] = [];
  tap.on('data', (piece: Buffer) => out.push(piece));
  await pipeline(Readable.from(pieces), tap);
  return { tap, text: Buffer.concat(out).toString(), events: parse(Buffer.concat(out).toString()) };
}

function parse(text: string): Event[] {
  return text.split('\n\n').filter(Boolean).map((block) => {
    const [eventLine, dataLine] = block.split('\n');
    const data = JSON.parse(dataLine!.slice('data: '.length)) as Event;
    if (eventLine !== `event: ${data.type}`) throw new Error(`event line ${eventLine} for ${data.type}`);
    return data;
  });
}

/** Ids and times differ between two answers; everything else must not. */
function normalised(response: unknown): unknown {
  return JSON.parse(JSON.stringify(response), (key, value) =>
    key === 'id' || key === 'item_id' || key === 'completed_at' ? '<normalised>' : value);
}

const words = ['Hello', ',', ' wor', 'ld', ' ✓'];

test('a text stream: the exact events, numbered from 0, the final response as clientAnswer builds it', async (t) => {
  const { events, tap } = await translate(textStream(words));
  t.same(events.map((event) => event.type), [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    ...words.map(() => 'response.output_text.delta'),
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  t.same(events.map((event) => event.sequence_number), events.map((_, i) => i));
  t.same(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta), words);
  const itemId = (events[2]!.item as { id: string }).id;
  t.match(events[4], { item_id: itemId, output_index: 0, content_index: 0, logprobs: [] });
  t.match(events[0], { response: { status: 'in_progress', output: [], usage: null, model: 'gpt-4o-mini-2024' } });
  t.equal(events.at(-4)!.text, words.join(''));
  const final = events.at(-1)!.response as ResponseObject;
  const usage = { input_tokens: 13, output_tokens: 12, total_tokens: 25 };
  t.match(final.usage, usage, 'from the usage chunk after finish_reason');
  const json = completion({ content: words.join('') });
  const answered = bridge.clientAnswer(request, Buffer.from(JSON.stringify(json)), json).response;
  t.same(normalised(final), normalised(answered), 'the same builder as the JSON answer');
  t.same(tap.response, final);
  t.equal(tap.completed, true);
  t.match(tap.usage, { promptTokens: 13, completionTokens: 12 });
  t.same(tap.streamedText(), { sample: words.join(''), chars: words.join('').length });
});

test('split anywhere, one byte at a time or with CRLF framing, the stream translates the same', async (t) => {
  const whole = normalised((await translate(textStream(words))).events);
  for (const size of [1, 3, 7, 64]) {
    t.same(normalised((await translate(textStream(words), size)).events), whole, `${size}-byte pieces`);
  }
  const crlf = textStream(words).map((event) => event.replace(/\n/g, '\r\n'));
  t.same(normalised((await translate(crlf, 5)).events), whole, 'CRLF');
});

test('tool calls: the text item closes when the first call starts; each call streams its arguments', async (t) => {
  const { events, tap } = await translate(toolCallStream(), 11);
  t.same(events.map((event) => event.type), [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.output_item.added',
    'response.function_call_arguments.delta',
    'response.function_call_arguments.delta',
    'response.function_call_arguments.done',
    'response.output_item.done',
    'response.output_item.added',
    'response.function_call_arguments.delta',
    'response.function_call_arguments.done',
    'response.output_item.done',
    'response.completed',
  ]);
  const added = { type: 'function_call', status: 'in_progress', call_id: 'call_a', name: 'weather', arguments: '' };
  t.match(events[8], { output_index: 1, item: added });
  t.match(events[11], { output_index: 1, arguments: '{"city":"Paris"}' });
  t.match(events[12], { item: { status: 'completed', arguments: '{"city":"Paris"}' } });
  const json = completion(toolCallMessage, 'tool_calls');
  const answered = bridge.clientAnswer(request, Buffer.from(JSON.stringify(json)), json).response;
  t.same(normalised(events.at(-1)!.response), normalised(answered));
  t.equal(tap.streamedText().sample, 'Checking.{"city":"Paris"}{}', 'text and argument deltas');
});

test('length ends with response.incomplete; no [DONE] after a finish_reason still ends the response', async (t) => {
  const cut = (await translate(textStream(['Hel'], 'length'))).events.at(-1)!;
  const incomplete = { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  t.match(cut, { type: 'response.incomplete', response: incomplete });
  const noDone = textStream(words).slice(0, -1);
  const { events, tap } = await translate(noDone);
  t.equal(events.at(-1)!.type, 'response.completed');
  t.equal(tap.completed, true);
});

test('an upstream error chunk: the nested error event, then response.failed', async (t) => {
  const error = { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' };
  const errorChunk = `data: ${JSON.stringify({ error })}\n\n`;
  const chunks = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hi' }), errorChunk];
  const { events, tap } = await translate(chunks);
  t.same(events.slice(-2).map((event) => event.type), ['error', 'response.failed']);
  t.match(events.at(-2), { error: { type: 'server_error', code: 'overloaded', message: 'Overloaded', param: null } });
  t.match(events.at(-1), { response: { status: 'failed', error: { code: 'overloaded', message: 'Overloaded' } } });
  t.same(events.map((event) => event.sequence_number), events.map((_, i) => i));
  t.equal(tap.completed, true);
});

test('a stream without a finish_reason, or one that breaks off, ends with the interruption error', async (t) => {
  const { events, tap } = await translate(textStream(words).slice(0, 3));
  t.match(events.at(-1), { type: 'error', error: { code: 'upstream_stream_interrupted', type: 'server_error' } });
  t.equal(tap.completed, false);
  t.equal(tap.response, undefined);

  const broken = bridge.clientStream(request);
  const out: Buffer[] = [];
  broken.on('data', (piece: Buffer) => out.push(piece));
  const ended = new Promise((resolve) => broken.on('end', resolve));
  broken.write(chunk({ content: 'Hi' }));
  broken.endWithError();
  await ended;
  const types = parse(Buffer.concat(out).toString()).map((event) => event.type);
  t.same(types.slice(-1), ['error']);
  t.equal(broken.completed, false);
  t.same(tap.streamedText().sample, 'Hello,');
});

test('holdTerminalEvent: the terminal event waits until the response was kept; kept or not, it comes', async (t) => {
  for (const outcome of ['resolve', 'reject'] as const) {
    const tap = bridge.clientStream(request);
    const kept: ResponseObject[] = [];
    let keepCalled!: () => void;
    const keeping = new Promise<void>((resolve) => (keepCalled = resolve));
    let settle!: () => void;
    tap.holdTerminalEvent((response) => {
      kept.push(response);
      keepCalled();
      return new Promise<void>((resolve, reject) => {
        settle = outcome === 'resolve' ? resolve : () => reject(new Error('store down'));
      });
    });
    const seen: string[] = [];
    tap.on('data', (piece: Buffer) => seen.push(...parse(piece.toString()).map((event) => event.type)));
    const ended = new Promise((resolve) => tap.on('end', resolve));
    tap.end(Buffer.from(textStream(words).join('')));
    await keeping;
    t.equal(seen.includes('response.completed'), false, `${outcome}: held while keeping`);
    t.same(kept, [tap.response], 'keep gets the final response');
    settle();
    await ended;
    t.equal(seen.at(-1), 'response.completed', `${outcome}: sent once settled`);
  }
});
