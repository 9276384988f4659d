// POST /v1/chat/completions through the gateway with the official SDK: non-stream and stream, with
// and without stream_options.include_usage (the gateway always asks the upstream for usage and hides
// the usage-only chunk from clients that did not ask for it).
import t from 'tap';
import { ALIAS, PRIMARY_MODEL, gatewayFixture } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, wordChunks } from '../../helpers/mock-upstream.js';

const WORDS = wordChunks(DEFAULT_TEXT).length;
const messages = [{ role: 'user' as const, content: 'Say hello.' }];

const { primary: mock, gw } = await gatewayFixture(t);
const client = gw.client();

t.test('non-stream answer and usage are relayed', async (t) => {
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  t.equal(completion.object, 'chat.completion', 'a chat.completion object');
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the upstream text');
  t.equal(completion.choices[0]?.finish_reason, 'stop', 'finish_reason stop');
  t.match(
    completion.usage,
    { prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: WORDS, total_tokens: DEFAULT_PROMPT_TOKENS + WORDS },
    'usage as the upstream counted it',
  );
  t.equal(mock.requests.length, 1, 'one upstream request');
  t.equal(mock.requests[0]?.body.model, PRIMARY_MODEL, 'upstream got the provider model id');
  t.notOk('stream_options' in mock.requests[0]!.body, 'no stream_options added to a non-stream request');
});

t.test(
  'stream without include_usage: no usage chunk reaches the client, but the upstream was asked for it',
  async (t) => {
    const stream = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    t.equal(text, DEFAULT_TEXT, 'deltas join to the upstream text');
    t.equal(chunks.length, WORDS + 2, 'role chunk + one per word + finish chunk');
    t.ok(
      chunks.every((c) => c.choices.length === 1),
      'no chunk with empty choices (the usage chunk was removed)',
    );
    t.ok(
      chunks.every((c) => !c.usage),
      'no chunk carries usage',
    );
    t.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop', 'the stream still ends with its finish chunk');
    t.same(mock.requests[0]?.body.stream_options, { include_usage: true }, 'the upstream was asked for usage');
  },
);

t.test('stream with include_usage: the client sees the usage chunk', async (t) => {
  const stream = await client.chat.completions.create({
    model: ALIAS,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  t.equal(chunks.length, WORDS + 3, 'role chunk + one per word + finish chunk + usage chunk');
  t.same(last?.choices, [], 'the last chunk is the usage-only chunk');
  t.match(
    last?.usage,
    { prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: WORDS, total_tokens: DEFAULT_PROMPT_TOKENS + WORDS },
    'with the upstream totals',
  );
  t.same(mock.requests[0]?.body.stream_options, { include_usage: true }, 'the upstream got include_usage once');
});

t.test('include_usage: false is overridden upstream and the other stream_options are kept', async (t) => {
  const stream = await client.chat.completions.create({
    model: ALIAS,
    messages,
    stream: true,
    stream_options: { include_usage: false, include_obfuscation: false },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  t.ok(chunks.every((c) => c.choices.length === 1 && !c.usage), 'the client that said false sees no usage chunk');
  t.same(
    mock.requests[0]?.body.stream_options,
    { include_usage: true, include_obfuscation: false },
    'upstream stream_options merged',
  );
});

t.test('stream helper assembles a final completion', async (t) => {
  const runner = client.chat.completions.stream({ model: ALIAS, messages, stream_options: { include_usage: true } });
  const final = await runner.finalChatCompletion();
  t.equal(final.choices[0]?.message.content, DEFAULT_TEXT, 'assembled text');
  t.equal(final.usage?.completion_tokens, WORDS, 'usage reached the helper');
});
