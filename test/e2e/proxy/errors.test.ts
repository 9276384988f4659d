// Requests the gateway refuses itself: OpenAI-shaped bodies so the SDK raises the right
// class, the offending param named, and nothing sent upstream.
import t, { type Test as Tap } from 'tap';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError } from 'openai';
import { ALIAS, randomKey, startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';

const BODY_LIMIT = 16 * 1024;
const restrictedKey = randomKey('restricted');
const expiredKey = randomKey('expired');

const mock = await startMockUpstream();
const gw = await startGateway({
  primary: mock,
  configure: (raw) => {
    raw.server.bodyLimitBytes = BODY_LIMIT;
    raw.providers.responsesonly = {
      baseUrl: mock.baseUrl,
      apiKey: 'sk-upstream-responsesonly-SECRET9999',
      endpoints: ['responses'],
    };
    raw.models['other-model'] = { routes: [{ provider: 'primary', model: 'other' }] };
    raw.models['responses-only'] = { routes: [{ provider: 'responsesonly', model: 'responses-only' }] };
    raw.keys.push({ name: 'restricted', key: restrictedKey, tier: 'tier-1', models: ['other-model'] });
    raw.keys.push({ name: 'expired', key: expiredKey, tier: 'tier-1', expiresAt: '2020-01-01T00:00:00Z' });
  },
});
t.teardown(async () => {
  await gw.close();
  await mock.close();
});
t.beforeEach(() => mock.reset());

const messages = [{ role: 'user' as const, content: 'hi' }];
/** Every refusal here happens before the upstream is called. */
const nothingUpstream = (t: Tap) => t.equal(mock.requests.length, 0, 'nothing reached the upstream');
const fail = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);
/** OpenAI's envelope: exactly message, type, param, code; the last two a string or null. */
function assertEnvelope(t: Tap, body: { error?: Record<string, unknown> }): void {
  const e = body.error ?? {};
  t.same(Object.keys(e).sort(), ['code', 'message', 'param', 'type'], 'error has message, type, param and code');
  t.ok(typeof e.message === 'string' && typeof e.type === 'string', 'message and type are strings');
  t.ok([e.param, e.code].every((v) => v === null || typeof v === 'string'), 'param and code are string or null');
}

async function post(path: string, body: string) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.key}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
}

t.test('a missing key is a 401 AuthenticationError', async (t) => {
  const client = new OpenAI({
    apiKey: 'unused',
    baseURL: `${gw.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { Authorization: null },
  });
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, AuthenticationError, 'AuthenticationError');
  t.equal((err as APIError).code, 'invalid_api_key', 'code invalid_api_key');
  nothingUpstream(t);
});

t.test('an unknown or expired key is a 401 AuthenticationError', async (t) => {
  for (const key of [randomKey('unknown'), expiredKey, 'not-even-a-tollgate-key']) {
    const err = await fail(gw.client(key).chat.completions.create({ model: ALIAS, messages }));
    t.type(err, AuthenticationError, 'AuthenticationError');
    t.equal((err as APIError).code, 'invalid_api_key', 'code invalid_api_key');
    t.notOk((err as APIError).message.includes(key), 'the presented key is not echoed');
  }
  nothingUpstream(t);
});

t.test('a key in api-key or x-api-key is accepted', async (t) => {
  for (const header of ['api-key', 'x-api-key']) {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { [header]: gw.key } });
    t.equal(res.status, 200, `${header} authenticates`);
    await res.arrayBuffer();
  }
});

t.test('an unknown model and a model the key may not use look the same: 404 model_not_found', async (t) => {
  const unknown = await fail(gw.client().chat.completions.create({ model: 'no-such-model', messages }));
  const forbidden = await fail(gw.client(restrictedKey).chat.completions.create({ model: ALIAS, messages }));
  for (const [label, err] of [['unknown', unknown], ['not permitted', forbidden]] as const) {
    t.type(err, NotFoundError, `${label}: NotFoundError`);
    t.equal((err as APIError).code, 'model_not_found', `${label}: code model_not_found`);
    t.equal((err as APIError).param, 'model', `${label}: param model`);
  }
  t.equal(
    (forbidden as APIError).message.replace(ALIAS, 'X'),
    (unknown as APIError).message.replace('no-such-model', 'X'),
    'same message: existence is not revealed',
  );
  const responses = await fail(gw.client(restrictedKey).responses.create({ model: ALIAS, input: 'hi' }));
  t.type(responses, NotFoundError, 'the Responses API refuses it too');
  nothingUpstream(t);
});

t.test('a model whose providers do not serve the endpoint is a 400', async (t) => {
  // Responses are bridged onto chat-only providers; chat is never bridged onto Responses.
  const err = await fail(gw.client().chat.completions.create({ model: 'responses-only', messages }));
  t.type(err, BadRequestError, 'BadRequestError');
  t.equal((err as APIError).param, 'model', 'param model');
  nothingUpstream(t);
});

t.test('malformed JSON is an OpenAI-shaped 400', async (t) => {
  const { status, body } = await post('/v1/chat/completions', '{"model": "gpt-4.1-nano", "messages": [');
  t.equal(status, 400, 'status 400');
  assertEnvelope(t, body);
  t.equal(body.error.type, 'invalid_request_error', 'invalid_request_error');
  nothingUpstream(t);
});

t.test('a body that is not an object is a 400', async (t) => {
  const { status, body } = await post('/v1/chat/completions', '[1, 2]');
  t.equal(status, 400, 'status 400');
  assertEnvelope(t, body);
  nothingUpstream(t);
});

t.test('missing and mistyped parameters are named', async (t) => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['messages', '/v1/chat/completions', { model: ALIAS }],
    ['model', '/v1/chat/completions', { messages }],
    ['stream', '/v1/chat/completions', { model: ALIAS, messages, stream: 'yes' }],
    ['max_tokens', '/v1/chat/completions', { model: ALIAS, messages, max_tokens: -1 }],
    ['input', '/v1/responses', { model: ALIAS }],
    ['max_output_tokens', '/v1/responses', { model: ALIAS, input: 'hi', max_output_tokens: 1.5 }],
  ];
  for (const [param, path, body] of cases) {
    const err = await fail(gw.client().post(path.replace('/v1', ''), { body }));
    t.type(err, BadRequestError, `${param}: BadRequestError`);
    t.equal((err as APIError).param, param, `${param}: param named`);
    t.equal((err as APIError).type, 'invalid_request_error', `${param}: invalid_request_error`);
    t.match((err as APIError).message, param, `${param}: the message names it`);
  }
  nothingUpstream(t);
});

t.test('a body over bodyLimitBytes is a 413', async (t) => {
  const big = 'x'.repeat(BODY_LIMIT * 2);
  const err = await fail(
    gw.client().chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: big }] }),
  );
  t.type(err, APIError, 'APIError');
  t.equal((err as APIError).status, 413, 'status 413');
  t.equal((err as APIError).code, 'request_too_large', 'code request_too_large');
  t.equal((err as APIError).type, 'invalid_request_error', 'invalid_request_error');
  nothingUpstream(t);
});

t.test('an unknown route is an OpenAI-shaped 404', async (t) => {
  const err = await fail(gw.client().embeddings.create({ model: ALIAS, input: 'hi' }));
  t.type(err, NotFoundError, 'NotFoundError from the SDK');
  const res = await fetch(`${gw.url}/no/such/route?x=1`);
  t.equal(res.status, 404, 'status 404 outside /v1 too');
  const body = (await res.json()) as { error?: Record<string, unknown> };
  assertEnvelope(t, body);
  t.notOk(JSON.stringify(body).includes('x=1'), 'the query string is not echoed');
  nothingUpstream(t);
});
