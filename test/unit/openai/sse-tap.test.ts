// SseTap's record of what a stream carried, for streams far longer than the raw events it keeps.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { SseTap } from '../../../src/openai/sse-tap.js';

const chatEvent = (delta: object) => {
  const chunk = { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] };
  return `data: ${JSON.stringify(chunk)}\n\n`;
};
const responsesEvent = (delta: string) =>
  `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', delta })}\n\n`;

/** Runs `events` through a tap in chunks that split events anywhere; returns the tap and what came out. */
async function relay(
  events: string[],
  endpoint: 'chat' | 'responses',
  stripUsageChunk = false,
): Promise<{ tap: SseTap; out: string }> {
  const bytes = Buffer.from(events.join(''));
  const chunks = [];
  for (let at = 0; at < bytes.length; at += 97) chunks.push(bytes.subarray(at, at + 97));
  const tap = new SseTap({ endpoint, stripUsageChunk });
  const out: Buffer[] = [];
  tap.on('data', (chunk: Buffer | string) => out.push(Buffer.from(chunk)));
  await pipeline(Readable.from(chunks), tap);
  return { tap, out: Buffer.concat(out).toString() };
}

t.test(
  'a cut chat stream of 5,000 events: the streamed text is every content and tool-call delta, in order',
  async (t) => {
    const words = Array.from({ length: 5_000 }, (_, i) => `w${i} `);
    const events = words.map((word, i) =>
      i % 10 === 9
        ? chatEvent({ tool_calls: [{ index: 0, function: { arguments: word } }] })
        : chatEvent({ content: word }),
    );
    const { tap, out } = await relay(events, 'chat');
    t.equal(out, events.join(''), 'relayed byte for byte');
    t.equal(tap.completed, false, 'no [DONE]: cut');
    t.same(
      tap.streamedText(),
      { sample: words.join(''), chars: words.join('').length },
      'text of all 5,000 events, across the reductions',
    );
    t.same(
      tap.streamedText(),
      { sample: words.join(''), chars: words.join('').length },
      'asking again gives the same text',
    );
  },
);

t.test('a cut Responses stream of 2,000 deltas, usage-chunk stripping on a chat stream', async (t) => {
  const words = Array.from({ length: 2_000 }, (_, i) => `r${i} `);
  const { tap } = await relay(words.map(responsesEvent), 'responses');
  t.equal(tap.streamedText().sample, words.join(''), 'Responses deltas');

  const chat = Array.from({ length: 600 }, (_, i) => chatEvent({ content: `c${i} ` }));
  const usage = { prompt_tokens: 3, completion_tokens: 600, total_tokens: 603 };
  const usageChunk = `data: ${JSON.stringify({ id: 'c', choices: [], usage })}\n\n`;
  const stripped = await relay([...chat, usageChunk, 'data: [DONE]\n\n'], 'chat', true);
  t.equal(stripped.out, chat.join('') + 'data: [DONE]\n\n', 'the usage-only chunk is not relayed');
  t.equal(stripped.tap.usage?.completionTokens, 600, 'its usage is taken');
  t.equal(
    stripped.tap.streamedText().sample,
    chat.map((_, i) => `c${i} `).join(''),
    'streamed text unaffected by the stripped chunk',
  );
});

t.test('a 50 MB cut stream keeps a bounded sample of its text, and counts the rest', async (t) => {
  const delta = 'x'.repeat(1_000);
  const events = Array.from({ length: 50_000 }, () => chatEvent({ content: delta }));
  const { tap } = await relay(events, 'chat');
  const { sample, chars } = tap.streamedText();
  t.equal(chars, 50_000_000, 'every character streamed is counted');
  t.ok(sample.length <= 65 * 1024, `the kept sample is bounded (${sample.length} chars), not the 50M streamed`);
});

t.test('a Responses stream whose echoed metadata looks like a terminal event: only the real one counts', async (t) => {
  const metadata = { type: 'response.completed', usage: '{"input_tokens":0}' };
  const response = (status: string, usage: unknown) => ({ id: 'resp_1', status, metadata, usage });
  const event = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  const created = event('response.created', { response: response('in_progress', null) });
  const cut = await relay([created, responsesEvent('Hello')], 'responses');
  t.equal(cut.tap.completed, false, 'response.created with that metadata does not end the stream');
  t.same(cut.tap.streamedText(), { sample: 'Hello', chars: 5 }, 'and its deltas are still counted');
  const usage = { input_tokens: 12, output_tokens: 2_000, total_tokens: 2_012 };
  const whole = await relay(
    [created, responsesEvent('Hello'), event('response.completed', { response: response('completed', usage) })],
    'responses',
  );
  t.match(whole.tap.usage, { promptTokens: 12, completionTokens: 2_000 }, "the usage of response.completed's response");
});
