// POST /v1/responses through the gateway with the official SDK, non-stream and stream. Responses
// streams carry their usage in response.completed; every event must arrive whole.
import t from 'tap';
import { ALIAS, PRIMARY_MODEL, gatewayFixture } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, wordChunks } from '../../helpers/mock-upstream.js';

const WORDS = wordChunks(DEFAULT_TEXT).length;
const usage = {
  input_tokens: DEFAULT_PROMPT_TOKENS,
  output_tokens: WORDS,
  total_tokens: DEFAULT_PROMPT_TOKENS + WORDS,
};

const { primary: mock, gw } = await gatewayFixture(t);
const client = gw.client();

t.test('non-stream response and usage are relayed', async (t) => {
  const response = await client.responses.create({ model: ALIAS, input: 'Say hello.', instructions: 'Be brief.' });
  t.match(response.id, /^resp_/, 'a Responses id');
  t.equal(response.status, 'completed', 'status completed');
  t.equal(response.output_text, DEFAULT_TEXT, 'the upstream text');
  t.match(response.usage, usage, 'usage as the upstream counted it');
  t.equal(mock.requests[0]?.path, '/v1/responses', 'sent to the provider /responses endpoint');
  t.match(
    mock.requests[0]?.body,
    { model: PRIMARY_MODEL, input: 'Say hello.', instructions: 'Be brief.' },
    'body forwarded with the provider model id',
  );
});

t.test('stream events arrive complete and end with response.completed usage', async (t) => {
  const stream = await client.responses.create({ model: ALIAS, input: 'Say hello.', stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  t.same(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
    'no event lost or split: sequence numbers 0..n-1',
  );
  t.equal(events[0]?.type, 'response.created', 'starts with response.created');
  const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
  t.equal(deltas.length, WORDS, 'one delta per word');
  t.equal(deltas.join(''), DEFAULT_TEXT, 'deltas join to the text');
  const last = events.at(-1);
  t.equal(last?.type, 'response.completed', 'ends with response.completed');
  if (last?.type === 'response.completed') t.match(last.response.usage, usage, 'response.completed carries usage');
  t.notOk('stream_options' in mock.requests[0]!.body, 'no chat stream_options added to a Responses request');
});

t.test('stream helper assembles the final response', async (t) => {
  const runner = client.responses.stream({ model: ALIAS, input: 'Say hello.' });
  const final = await runner.finalResponse();
  t.equal(final.output_text, DEFAULT_TEXT, 'assembled text');
  t.match(final.usage, usage, 'final usage');
});

t.test('max_output_tokens passes through and an incomplete stream ends with response.incomplete', async (t) => {
  const stream = await client.responses.create({
    model: ALIAS,
    input: 'Say hello.',
    stream: true,
    max_output_tokens: 2,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  t.equal(mock.requests[0]?.body.max_output_tokens, 2, 'the cap reached the upstream');
  const last = events.at(-1);
  t.equal(last?.type, 'response.incomplete', 'ends with response.incomplete');
  if (last?.type === 'response.incomplete') {
    t.match(last.response.usage, { output_tokens: 2 }, 'usage of the truncated answer');
  }
});
