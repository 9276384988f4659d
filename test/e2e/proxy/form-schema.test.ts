// A form-schema reseller behind a real gateway: the official SDK sends a chat request, the reseller
// (a mock that answers 422 to any `messages` body, as such a reseller does) receives the form body;
// streams pass through; what the form cannot carry goes to the next route, or is a 400 naming the
// member when no route can serve it; the reseller's own error shape reaches the client as OpenAI's.
import t from 'tap';
import { BadRequestError, UnprocessableEntityError } from 'openai';
import { ALIAS, PRIMARY_API_KEY, PRIMARY_MODEL, SECONDARY_MODEL, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, type Behaviour, type RecordedRequest } from '../../helpers/mock-upstream.js';

const FORM_THEN_NATIVE = 'form-then-native';
const REJECT_MESSAGES = JSON.stringify({
  detail: [{ loc: ['body', 'prompt'], msg: 'Field required', type: 'missing' }],
});

/** The reseller refuses OpenAI's own body, as a real form-schema reseller does. */
const reseller = await startMockUpstream();
const resellerBehaviour = (request: RecordedRequest): Behaviour =>
  request.body.messages === undefined
    ? { kind: 'ok' }
    : { kind: 'raw', status: 422, text: REJECT_MESSAGES, contentType: 'application/json' };
const native = await startMockUpstream();
const gw = await startGateway({
  primary: reseller,
  secondary: native,
  configure: (raw) => {
    raw.providers.primary!.format = 'form-schema';
    raw.models[ALIAS]!.routes = [{ provider: 'primary', model: PRIMARY_MODEL }];
    raw.models[FORM_THEN_NATIVE] = {
      routes: [
        { provider: 'primary', model: PRIMARY_MODEL },
        { provider: 'secondary', model: SECONDARY_MODEL },
      ],
    };
  },
});
t.teardown(async () => {
  await gw.close();
  await reseller.close();
  await native.close();
});
t.beforeEach(() => {
  reseller.reset();
  native.reset();
  reseller.behave(resellerBehaviour);
});

const client = gw.client();
const tool = {
  type: 'function' as const,
  function: { name: 'lookup', parameters: { type: 'object', properties: {} } },
};

t.test('a chat request reaches the reseller as its form body, with its key, and the answer comes back', async (t) => {
  const completion = await client.chat.completions.create({
    model: ALIAS,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi there' },
    ],
    temperature: 0.2,
    seed: 7,
    max_tokens: 50,
    response_format: { type: 'json_object' },
  });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT);
  t.ok(completion.usage && completion.usage.total_tokens > 0, 'the usage is relayed');
  const [request] = reseller.requests;
  t.equal(request?.path, '/v1/chat/completions');
  t.equal(request?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`);
  t.same(request?.body, {
    model: PRIMARY_MODEL,
    system_prompt: 'Be brief.',
    prompt: 'Hi there',
    temperature: 0.2,
    seed: 7,
    max_completion_tokens: 50,
    response_format: { type: 'json_object' },
  });
});

t.test('a conversation becomes a transcript, and its image a form member', async (t) => {
  await client.chat.completions.create({
    model: ALIAS,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look' },
          { type: 'image_url', image_url: { url: 'https://example.test/cat.png', detail: 'low' } },
        ],
      },
      { role: 'assistant', content: 'A cat.' },
      { role: 'user', content: 'What colour?' },
    ],
  });
  t.match(reseller.requests[0]?.body, {
    prompt: 'User: Look\n\nAssistant: A cat.\n\nUser: What colour?',
    image_urls: ['https://example.test/cat.png'],
    image_detail: 'low',
  });
});

t.test('a stream passes through; the form body says stream and nothing else about it', async (t) => {
  const stream = await client.chat.completions.create({
    model: ALIAS,
    messages: [{ role: 'user', content: 'Hi' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  t.equal(text, DEFAULT_TEXT);
  t.same(reseller.requests[0]?.body, { model: PRIMARY_MODEL, prompt: 'Hi', stream: true });
});

t.test('tools go to the next route that speaks OpenAI, untouched', async (t) => {
  const messages = [{ role: 'user' as const, content: 'Look it up' }];
  await client.chat.completions.create({ model: FORM_THEN_NATIVE, messages, tools: [tool] });
  t.equal(reseller.requests.length, 0, 'the reseller is not asked what it cannot do');
  t.match(native.requests[0]?.body, { model: SECONDARY_MODEL, messages, tools: [tool] });
});

t.test('tools with no other route: a 400 naming the member, nothing sent upstream', async (t) => {
  const error = await client.chat.completions
    .create({ model: ALIAS, messages: [{ role: 'user', content: 'x' }], tools: [tool] })
    .catch((err: unknown) => err);
  t.type(error, BadRequestError);
  t.match(error, { status: 400, param: 'tools', code: 'unsupported_parameter', message: /form body.*`tools`/ });
  t.equal(reseller.requests.length, 0);
});

t.test("the reseller's own error shape reaches the client in OpenAI's envelope", async (t) => {
  reseller.behave({ kind: 'raw', status: 422, text: REJECT_MESSAGES, contentType: 'application/json' });
  const error = await client.chat.completions
    .create({ model: ALIAS, messages: [{ role: 'user', content: 'x' }] })
    .catch((err: unknown) => err);
  t.type(error, UnprocessableEntityError);
  t.match(error, { status: 422, type: 'invalid_request_error', message: /Field required/ });
});

t.test('a Responses request reaches the reseller bridged: as chat, then as its form', async (t) => {
  const response = await client.responses.create({ model: ALIAS, instructions: 'Be brief.', input: 'Hi' });
  t.equal(response.output_text, DEFAULT_TEXT);
  t.same(reseller.requests[0]?.body, { model: PRIMARY_MODEL, system_prompt: 'Be brief.', prompt: 'Hi' });
  t.equal(reseller.requests[0]?.path, '/v1/chat/completions');
});
