// Responses over a chat-only provider, end to end: the official SDK speaks Responses to a real gateway
// whose only route is a Chat Completions mock over real HTTP. The mock receives chat bodies; the
// client gets Response objects and OpenAI's event sequence; a stream and a non-stream answer end in the
// same final response; the records serve retrieve, input_items and delete, and a follow-up chained with
// previous_response_id the instant the stream ended; usage is counted exactly.
import t from 'tap';
import { BadRequestError, NotFoundError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { ALIAS, PRIMARY_MODEL, randomKey, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';

const chatOnly = await startMockUpstream();
const otherKey = randomKey('other');
const gw = await startGateway({
  primary: chatOnly,
  configure: (raw) => {
    raw.providers.primary!.endpoints = ['chat'];
    raw.keys.push({ name: 'other', key: otherKey, tier: 'tier-5' });
  },
});
t.teardown(async () => {
  await gw.close();
  await chatOnly.close();
});
t.beforeEach(() => chatOnly.reset());

const client = gw.client();
const WORDS = wordChunks(DEFAULT_TEXT).length;

/** The error a call failed with (tap's rejects() matches only Error members). */
const failure = (call: Promise<unknown>): Promise<unknown> => call.then(() => undefined, (err: unknown) => err);

/** What differs between two answers to the same request (ids, clocks), and what the SDK adds (`output_text`). */
const VARYING = new Set(['id', 'created_at', 'completed_at', 'output_text']);
function comparable(response: object): unknown {
  return JSON.parse(JSON.stringify(response, (key, value) => (VARYING.has(key) ? undefined : value)));
}

t.test('a Responses request reaches the chat-only provider as chat and comes back a Response', async (t) => {
  const response = await client.responses.create({
    model: ALIAS,
    instructions: 'Be brief.',
    input: 'Say hello.',
    max_output_tokens: 100,
    temperature: 0.5,
  });
  const [request] = chatOnly.requests;
  t.equal(request?.path, '/v1/chat/completions', 'sent to the chat endpoint');
  t.same(request?.body.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Say hello.' },
  ]);
  t.match(request?.body, { model: PRIMARY_MODEL, max_completion_tokens: 100, temperature: 0.5 });
  t.match(response.id, /^resp_[0-9a-f]{48}$/, 'a Responses id');
  t.equal(response.object, 'response');
  t.equal(response.status, 'completed');
  t.equal(response.output_text, DEFAULT_TEXT);
  t.equal(response.instructions, 'Be brief.', 'the request is echoed');
  t.match(response.usage, {
    input_tokens: DEFAULT_PROMPT_TOKENS,
    output_tokens: WORDS,
    total_tokens: DEFAULT_PROMPT_TOKENS + WORDS,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens_details: { reasoning_tokens: 0 },
  });
});

t.test('a length finish is an incomplete response', async (t) => {
  const response = await client.responses.create({ model: ALIAS, input: 'Say hello.', max_output_tokens: 16 });
  t.equal(response.status, 'completed', 'the mock says five words, within 16');
  const capped = await client.responses.create({ model: ALIAS, input: 'Say hello.', max_output_tokens: 2 });
  t.equal(capped.status, 'incomplete');
  t.same(capped.incomplete_details, { reason: 'max_output_tokens' });
});

t.test('streamed: OpenAI event sequence, numbered from 0, ending in the JSON answer\'s response', async (t) => {
  const events: ResponseStreamEvent[] = [];
  for await (const event of await client.responses.create({ model: ALIAS, input: 'Say hello.', stream: true })) {
    events.push(event);
  }
  t.same(
    events.map((event) => event.sequence_number),
    events.map((_, i) => i),
    'sequence_number runs 0, 1, 2, … without a gap',
  );
  t.same(
    events.map((event) => event.type),
    [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(WORDS).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ],
  );
  t.equal(chatOnly.requests[0]?.body.stream, true, 'the chat upstream streamed');
  const terminal = events.at(-1);
  const whole = await client.responses.create({ model: ALIAS, input: 'Say hello.' });
  t.ok(terminal?.type === 'response.completed', 'completed');
  if (terminal?.type !== 'response.completed') return;
  t.same(comparable(terminal.response), comparable(whole), 'stream and JSON answer end in the same response object');
});

t.test("the SDK's stream helper, which checks every event it is given, accumulates the answer", async (t) => {
  const stream = client.responses.stream({ model: ALIAS, input: 'Say hello.' });
  let deltas = '';
  stream.on('response.output_text.delta', (event) => (deltas += event.delta));
  const final = await stream.finalResponse();
  t.equal(deltas, DEFAULT_TEXT);
  t.equal(final.output_text, DEFAULT_TEXT);
  t.match(final.usage, { input_tokens: DEFAULT_PROMPT_TOKENS, output_tokens: WORDS });
});

t.test('a follow-up sent the instant a stream ends chains onto it: the conversation is rebuilt for chat', async (t) => {
  const stream = await client.responses.create({ model: ALIAS, input: 'Say hello.', stream: true });
  let firstId = '';
  for await (const event of stream) if (event.type === 'response.completed') firstId = event.response.id;
  const second = await client.responses.create({
    model: ALIAS,
    input: 'And again?',
    instructions: 'Only for this turn.',
    previous_response_id: firstId,
  });
  t.equal(second.previous_response_id, firstId, 'echoed');
  const text = (words: string) => [{ type: 'text', text: words }];
  t.same(chatOnly.requests[1]?.body.messages, [
    { role: 'system', content: 'Only for this turn.' },
    { role: 'user', content: text('Say hello.') },
    { role: 'assistant', content: text(DEFAULT_TEXT) },
    { role: 'user', content: 'And again?' },
  ]);
  const third = await client.responses.create({ model: ALIAS, input: 'Once more.', previous_response_id: second.id });
  t.equal(third.status, 'completed');
  t.same(
    (chatOnly.requests[2]?.body.messages as Array<{ role: string }>).map((message) => message.role),
    ['user', 'assistant', 'user', 'assistant', 'user'],
    'three turns: the first instructions are not carried over',
  );
});

t.test('bridged records: retrieve, input items, delete; only for the key that created them', async (t) => {
  const created = await client.responses.create({
    model: ALIAS,
    input: [
      { role: 'user', content: 'First.' },
      { role: 'user', content: 'Second.' },
    ],
  });
  t.same(comparable(await client.responses.retrieve(created.id)), comparable(created), 'retrieved as served');
  const items = await client.responses.inputItems.list(created.id, { order: 'asc' });
  t.same(
    items.data.map((item) => item.type === 'message' && item.content[0]),
    [
      { type: 'input_text', text: 'First.' },
      { type: 'input_text', text: 'Second.' },
    ],
  );
  const other = gw.client(otherKey);
  t.type(await failure(other.responses.retrieve(created.id)), NotFoundError, 'another key: not found');
  t.match(
    await failure(other.responses.create({ model: ALIAS, input: 'Hi', previous_response_id: created.id })),
    { status: 400, error: { param: 'previous_response_id', code: 'previous_response_not_found' } },
    'another key cannot chain onto it',
  );
  const deleted: unknown = await client.responses.delete(created.id);
  t.same(deleted, { id: created.id, object: 'response', deleted: true });
  t.type(await failure(client.responses.retrieve(created.id)), NotFoundError, 'gone after delete');
});

t.test('store: false keeps no record; an unknown id is OpenAI\'s 400', async (t) => {
  const unstored = await client.responses.create({ model: ALIAS, input: 'Hi', store: false });
  t.match(unstored, { store: false }, 'echoed');
  t.type(await failure(client.responses.retrieve(unstored.id)), NotFoundError, 'no record');
  const unknown = { model: ALIAS, input: 'Hi', previous_response_id: 'resp_unknown' };
  const err = await failure(client.responses.create(unknown));
  t.type(err, BadRequestError);
  t.match(err, {
    error: {
      message: "Previous response with id 'resp_unknown' not found.",
      type: 'invalid_request_error',
      param: 'previous_response_id',
      code: 'previous_response_not_found',
    },
  });
  t.equal(chatOnly.requests.length, 1, 'the unknown id never went upstream');
});

t.test('what chat cannot do is a 400 naming the parameter', async (t) => {
  t.match(await failure(client.responses.create({ model: ALIAS, input: 'Search.', tools: [{ type: 'web_search' }] })), {
    status: 400,
    error: { param: 'tools', code: 'unsupported_parameter' },
  });
  t.match(await failure(client.responses.create({ model: ALIAS, input: 'Later.', background: true })), {
    status: 400,
    error: { param: 'background', code: 'unsupported_parameter' },
  });
  t.equal(chatOnly.requests.length, 0, 'nothing went upstream');
});

t.test('what chat cannot do goes to a later route that serves Responses natively', async (t) => {
  const native = await startMockUpstream();
  const mixed = await startGateway({
    primary: chatOnly,
    secondary: native,
    configure: (raw) => {
      raw.providers.primary!.endpoints = ['chat'];
    },
  });
  t.teardown(async () => {
    await mixed.close();
    await native.close();
  });
  const searched = await mixed.client().responses.create({
    model: ALIAS,
    input: 'Search.',
    tools: [{ type: 'web_search' }],
  });
  t.equal(searched.output_text, DEFAULT_TEXT);
  t.equal(chatOnly.requests.length, 0, 'the chat-only route was skipped');
  t.match(native.requests[0], { path: '/v1/responses', body: { tools: [{ type: 'web_search' }] } });

  await mixed.client().responses.create({ model: ALIAS, input: 'Plain.' });
  t.equal(chatOnly.requests.length, 1, 'a request chat can carry stays on the first route, bridged');
  t.equal(native.requests.length, 1);
});
