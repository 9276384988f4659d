// The offline demo in-process (src/demo/demo-gateway.ts): the gateway on config/demo.yaml in front of
// its embedded echo upstream, used as a newcomer would, with the openai SDK and the key and token the
// banner prints. Usage is checked against o200k_base counts made here with gpt-tokenizer directly, so
// the demo's "honest numbers" are not only the gateway agreeing with itself.
import t, { type Test } from 'tap';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI, { AuthenticationError } from 'openai';
import { demoBanner } from '../../../src/demo/banner.js';
import { startDemo } from '../../../src/demo/demo-gateway.js';
import { adminApi, expectedCostUsd, sumRows, sumUsage, type TokenCounts } from '../../helpers/admin-http.js';

const demo = await startDemo({ env: { PORT: '0' }, logger: false });
t.teardown(() => demo.close());

const banner = demoBanner(demo.url, demo.config);
const printed = (label: string) => new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(banner)?.[1] ?? '';
const key = printed('demo key');
const adminToken = printed('admin token');
const client = new OpenAI({ apiKey: key, baseURL: printed('base URL'), maxRetries: 0 });

/** What each request below should have cost, in order. */
const spent: TokenCounts[] = [];

/** OpenAI's chat count (docs/wire.md §9): 3 to prime the reply, and per message 3 plus its values. */
function promptTokens(messages: Array<{ role: string; content: string }>): number {
  return messages.reduce((sum, m) => sum + 3 + countTokens(m.role) + countTokens(m.content), 3);
}

interface Reported {
  prompt: number;
  completion: number;
  total: number;
}
const fromChat = (u: OpenAI.CompletionUsage): Reported =>
  ({ prompt: u.prompt_tokens, completion: u.completion_tokens, total: u.total_tokens });
const fromResponses = (u: OpenAI.Responses.ResponseUsage): Reported =>
  ({ prompt: u.input_tokens, completion: u.output_tokens, total: u.total_tokens });

/** The usage an answer reported is the count of its prompt and of the text the client received. */
function expectUsage(t: Test, usage: Reported, expected: { prompt: number; text: string }): void {
  const { prompt, text } = expected;
  t.equal(usage.prompt, prompt, `prompt tokens: the o200k_base count of the prompt (${prompt})`);
  t.equal(usage.completion, countTokens(text), 'completion tokens: the o200k_base count of the answer');
  t.equal(usage.total, usage.prompt + usage.completion, 'total: prompt + completion');
  spent.push({ promptTokens: usage.prompt, cachedTokens: 0, completionTokens: usage.completion, reasoningTokens: 0 });
}

const isOneWord = (delta: string) => /^\s*\S+$/.test(delta);

t.test('the banner prints the base URL, a demo key, an admin token, a curl line and the dashboard', async (t) => {
  t.equal(printed('base URL'), `${demo.url}/v1`);
  t.match(key, /^sk-tg-demo-/, 'an obviously-demo key');
  t.ok(adminToken, 'an admin token');
  t.equal(printed('dashboard'), `${demo.url}/dashboard`);
  t.match(banner, `curl ${demo.url}/v1/chat/completions -H 'Authorization: Bearer ${key}'`);
});

t.test('chat: the last user message echoed, with exact usage', async (t) => {
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'Hello there' },
  ];
  const answer = await client.chat.completions.create({ model: 'demo', messages });
  const text = answer.choices[0]?.message.content ?? '';
  t.match(text, /^You said: "Hello there"\. /, 'echoes the last user message in a sentence');
  t.equal(answer.model, 'demo-echo', 'the answer names the demo upstream, not a real model');
  expectUsage(t, fromChat(answer.usage!), { prompt: promptTokens(messages), text });
});

t.test('chat, streamed: one word per chunk, then the usage chunk', async (t) => {
  const messages = [{ role: 'user' as const, content: 'Stream this, please' }];
  const stream = await client.chat.completions.create({
    model: 'gpt-4.1-nano',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const deltas: string[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta.content;
    if (delta) deltas.push(delta);
    if (chunk.usage) usage = chunk.usage;
  }
  t.ok(deltas.length > 10 && deltas.every(isOneWord), `${deltas.length} chunks of one word each`);
  const text = deltas.join('');
  t.match(text, /^You said: "Stream this, please"\. /);
  expectUsage(t, fromChat(usage!), { prompt: promptTokens(messages), text });
});

t.test('Responses: a Response object with exact usage', async (t) => {
  const response = await client.responses.create({ model: 'demo', input: 'Hi from Responses' });
  t.equal(response.status, 'completed');
  t.match(response.output_text, /^You said: "Hi from Responses"\. /);
  const prompt = promptTokens([{ role: 'user', content: 'Hi from Responses' }]);
  expectUsage(t, fromResponses(response.usage!), { prompt, text: response.output_text });
});

t.test('Responses, streamed: numbered events, one word per delta, usage in response.completed', async (t) => {
  const stream = await client.responses.create({
    model: 'demo',
    instructions: 'Echo it.',
    input: [{ role: 'user', content: 'A streamed hello' }],
    stream: true,
  });
  const types: string[] = [];
  const sequence: number[] = [];
  const deltas: string[] = [];
  let final: OpenAI.Responses.Response | undefined;
  for await (const event of stream) {
    types.push(event.type);
    sequence.push(event.sequence_number);
    if (event.type === 'response.output_text.delta') deltas.push(event.delta);
    if (event.type === 'response.completed') final = event.response;
  }
  t.same(types.slice(0, 4), [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
  ], 'opens as OpenAI does');
  t.same(types.slice(-4), [
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ], 'closes as OpenAI does');
  t.same(sequence, types.map((_type, i) => i), 'sequence_number counts every event from 0');
  t.ok(deltas.length > 10 && deltas.every(isOneWord), `${deltas.length} deltas of one word each`);
  const text = deltas.join('');
  t.match(final?.output, [{ type: 'message', content: [{ type: 'output_text', text }] }],
    'the final response holds the streamed text');
  const prompt = promptTokens([{ role: 'system', content: 'Echo it.' }, { role: 'user', content: 'A streamed hello' }]);
  expectUsage(t, fromResponses(final!.usage!), { prompt, text });
});

t.test('/v1/models lists the demo aliases', async (t) => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  t.same(ids.sort(), ['demo', 'gpt-4.1-nano']);
});

t.test('usage: /v1/me and /admin/usage add up what the answers reported', async (t) => {
  await demo.app.usage.store.flush();
  const expected = sumUsage(spent);
  const me = await client.get<{ usageThisMonth: Record<string, number> }>('/me');
  t.match(me.usageThisMonth, expected, `/v1/me: ${expected.requests} requests, their tokens`);
  const rows = await adminApi(demo.url, adminToken).usage();
  const total = sumRows(rows);
  t.match(total, expected, '/admin/usage with the printed admin token: the same');
  t.ok(Math.abs(total.costUsd - expectedCostUsd(expected)) < 1e-9, `costs ${expectedCostUsd(expected)} USD`);
});

t.test('a key the demo does not know is refused', async (t) => {
  const stranger = new OpenAI({ apiKey: 'sk-tg-not-the-demo-key', baseURL: `${demo.url}/v1`, maxRetries: 0 });
  const refusal = await stranger.models.list().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(refusal, AuthenticationError, '401, as OpenAI answers a wrong key');
});
