// Key rewriting and body passthrough, seen from the upstream: the provider credential
// replaces the client's, client identity headers stay inside, the alias becomes the provider's model
// id, and every other body field reaches the upstream unchanged.
import http from 'node:http';
import t from 'tap';
import { ALIAS, PRIMARY_API_KEY, PRIMARY_EXTRA_HEADERS, PRIMARY_MODEL, gatewayFixture } from '../../helpers/gateway.js';
import type { RecordedRequest } from '../../helpers/mock-upstream.js';

const { primary: mock, gw } = await gatewayFixture(t);

const messages = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];
const headerText = (rec: RecordedRequest | undefined) => JSON.stringify(rec?.headers ?? {});

t.test('the provider key replaces the client key and client identity headers are dropped', async (t) => {
  const client = gw.client();
  await client.chat.completions.create(
    { model: ALIAS, messages },
    {
      headers: {
        'OpenAI-Organization': 'org-client',
        'OpenAI-Project': 'proj_client',
        'api-key': gw.key,
        'x-api-key': gw.key,
        'x-client-trace': 'keep-me',
      },
    },
  );
  const rec = mock.requests[0];
  t.equal(rec?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`, 'Authorization carries the provider key');
  t.notOk(headerText(rec).includes(gw.key), 'the client key is in no upstream header');
  t.notOk(rec?.headers['api-key'], 'no api-key header upstream');
  t.notOk(rec?.headers['x-api-key'], 'no x-api-key header upstream');
  t.notOk(rec?.headers['openai-organization'], 'OpenAI-Organization removed');
  t.notOk(rec?.headers['openai-project'], 'OpenAI-Project removed');
  t.equal(rec?.headers['x-client-trace'], 'keep-me', 'ordinary client headers pass through');
  for (const [name, value] of Object.entries(PRIMARY_EXTRA_HEADERS)) {
    t.equal(rec?.headers[name.toLowerCase()], value, `configured provider header ${name} is sent`);
  }
  t.equal(rec?.headers['content-type'], 'application/json', 'JSON content type upstream');
});

t.test('a key sent only as x-api-key is removed as well', async (t) => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': gw.key },
    body: JSON.stringify({ model: ALIAS, messages }),
  });
  t.equal(res.status, 200, 'accepted');
  await res.arrayBuffer();
  t.equal(mock.requests[0]?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`, 'provider key upstream');
  t.notOk(headerText(mock.requests[0]).includes(gw.key), 'the client key is in no upstream header');
});

t.test('hop-by-hop headers, and headers named in Connection, stay at the gateway', async (t) => {
  const body = JSON.stringify({ model: ALIAS, messages });
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.key}`,
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop-secret',
        'x-hop-secret': 'do-not-forward',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
      },
    });
    req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)));
    req.on('error', reject);
    req.end(body);
  });
  t.equal(status, 200, 'accepted');
  const headers = mock.requests[0]?.headers ?? {};
  t.notOk(headers['x-hop-secret'], 'a header named in Connection is not forwarded');
  t.notOk(headers['proxy-authorization'], 'Proxy-Authorization is not forwarded');
  t.notOk(headers.te, 'TE is not forwarded');
});

t.test('the model id is rewritten and unknown fields pass through unchanged', async (t) => {
  const extra = {
    tools: [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ],
    tool_choice: 'auto' as const,
    response_format: {
      type: 'json_schema' as const,
      json_schema: { name: 'w', schema: { type: 'object', properties: { t: { type: 'number' } } }, strict: true },
    },
    metadata: { team: 'search', ticket: 'T-1' },
    temperature: 0.7,
    seed: 42,
    user: 'user-123',
  };
  await gw.client().chat.completions.create({ model: ALIAS, messages, ...extra, max_tokens: 50 });
  const { model, ...rest } = mock.requests[0]?.body ?? {};
  t.equal(model, PRIMARY_MODEL, 'the alias became the provider model id');
  t.same(rest, { messages, ...extra, max_tokens: 50 }, 'every other field arrived exactly as sent');
});

t.test(
  'the body reaches the upstream byte for byte but for the model id: spacing, number forms and escapes as sent',
  async (t) => {
    const sent =
      '{\n  "messages": [{"role": "user", "content": "caf\\u00e9 \\"model\\": \\"x\\" 日本"}],\n' +
      `  "temperature": 1.50, "seed": 4.2e1,\n  "model" : "${ALIAS}"\n}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
      body: sent,
    });
    t.equal(res.status, 200, 'served');
    await res.arrayBuffer();
    t.equal(
      mock.requests[0]?.text,
      sent.replace(`"${ALIAS}"`, `"${PRIMARY_MODEL}"`),
      'only the model value changed',
    );
  },
);

t.test('a field the SDK does not know still reaches the upstream', async (t) => {
  const future = { nested: [1, 'two', null, { deep: true }], n: 1.5e-7 };
  await gw.client().chat.completions.create({ model: ALIAS, messages, future_param: future } as never);
  t.same(mock.requests[0]?.body.future_param, future, 'unknown field forwarded as sent');
});

t.test('__proto__ and constructor keys are data: forwarded as sent, not refused', async (t) => {
  const body =
    `{"model":"${ALIAS}","messages":${JSON.stringify(messages)},` +
    '"metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}}';
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body,
  });
  t.equal(res.status, 200, 'served');
  await res.arrayBuffer();
  const metadata = mock.requests[0]?.body.metadata;
  t.same(
    Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value,
    { polluted: true },
    '__proto__ arrived as an ordinary key',
  );
  t.same(metadata?.constructor, { prototype: { x: 1 } }, 'constructor arrived as sent');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
});

t.test('Responses requests are rewritten the same way', async (t) => {
  await gw
    .client()
    .responses.create(
      { model: ALIAS, input: 'hi', metadata: { a: 'b' }, text: { format: { type: 'text' } } },
      { headers: { 'OpenAI-Project': 'proj_client' } },
    );
  const rec = mock.requests[0];
  t.equal(rec?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`, 'provider key upstream');
  t.notOk(rec?.headers['openai-project'], 'OpenAI-Project removed');
  t.same(
    rec?.body,
    { model: PRIMARY_MODEL, input: 'hi', metadata: { a: 'b' }, text: { format: { type: 'text' } } },
    'body forwarded with only the model changed',
  );
});

t.test('the provider account identity and upstream rate-limit headers are not relayed to the client', async (t) => {
  mock.behave({
    kind: 'error',
    status: 400,
    headers: { 'openai-organization': 'org-provider', 'x-ratelimit-limit-requests': '77' },
  });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.key}` },
    body: JSON.stringify({ model: ALIAS, messages }),
  });
  await res.arrayBuffer();
  t.equal(res.headers.get('openai-organization'), null, 'no openai-organization header downstream');
  t.not(res.headers.get('x-ratelimit-limit-requests'), '77', 'the upstream x-ratelimit-* value is not relayed');
});
