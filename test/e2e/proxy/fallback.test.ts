// Fallback along a model's routes: 5xx, 429, refused or reset connections and header
// timeouts fall through to the next route; the last failure shapes the answer; the upstream's 4xx is
// the client's own and is relayed at once; a refused provider credential is never relayed.
import net from 'node:net';
import t, { type Test as Tap } from 'tap';
import { APIError, BadRequestError, InternalServerError, RateLimitError } from 'openai';
import { ALIAS, PRIMARY_API_KEY, SECONDARY_API_KEY, SECONDARY_MODEL, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream } from '../../helpers/mock-upstream.js';

const HEADERS_TIMEOUT_MS = 400;
const REFUSED_FIRST = 'refused-first';

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const primary = await startMockUpstream();
const secondary = await startMockUpstream();
const deadPort = await closedPort();
const gw = await startGateway({
  primary,
  secondary,
  configure: (raw) => {
    raw.upstream.headersTimeoutMs = HEADERS_TIMEOUT_MS;
    raw.providers.dead = { baseUrl: `http://127.0.0.1:${deadPort}/v1`, apiKey: 'sk-upstream-dead-SECRET0000' };
    raw.models[REFUSED_FIRST] = {
      routes: [
        { provider: 'dead', model: 'x' },
        { provider: 'secondary', model: SECONDARY_MODEL },
      ],
    };
  },
});
t.teardown(async () => {
  await gw.close();
  await Promise.all([primary.close(), secondary.close()]);
});
t.beforeEach(() => {
  primary.reset();
  secondary.reset();
});

const client = gw.client();
const messages = [{ role: 'user' as const, content: 'hi' }];
const fail = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

function answeredBySecondary(t: Tap, content: string | null | undefined): void {
  t.equal(content, DEFAULT_TEXT, 'the client got the answer');
  t.equal(primary.requests.length, 1, 'the primary was tried once');
  t.equal(secondary.requests.length, 1, 'the secondary answered');
  t.equal(secondary.requests[0]?.body.model, SECONDARY_MODEL, 'with its own model id');
  t.equal(secondary.requests[0]?.headers.authorization, `Bearer ${SECONDARY_API_KEY}`, 'and its own provider key');
}

t.test('primary 500: the secondary answers', async (t) => {
  primary.behave({ kind: 'error', status: 500 });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  answeredBySecondary(t, completion.choices[0]?.message.content);
});

t.test('primary 429: the secondary answers', async (t) => {
  primary.behave({ kind: 'error', status: 429, headers: { 'retry-after': '20' } });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  answeredBySecondary(t, completion.choices[0]?.message.content);
});

t.test('primary resets the connection: the secondary answers a stream', async (t) => {
  primary.behave({ kind: 'destroy' });
  const stream = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  answeredBySecondary(t, text);
});

t.test('primary connection refused: the secondary answers', async (t) => {
  const completion = await client.chat.completions.create({ model: REFUSED_FIRST, messages });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the client got the answer');
  t.equal(secondary.requests.length, 1, 'the secondary answered');
});

t.test('primary hangs past headersTimeoutMs: the secondary answers', async (t) => {
  primary.behave({ kind: 'hang' });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  answeredBySecondary(t, completion.choices[0]?.message.content);
  t.equal((await primary.waitForAbort()).aborted, true, 'the hung primary request was abandoned');
});

t.test('every route fails: the last status with an OpenAI body', async (t) => {
  primary.behave({ kind: 'error', status: 500 });
  secondary.behave({ kind: 'error', status: 429 });
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, RateLimitError, 'the last failure (429) is what the client sees');
  t.equal((err as APIError).code, 'rate_limit_exceeded', 'with the upstream error code');
  primary.behave({ kind: 'error', status: 429 });
  secondary.behave({ kind: 'error', status: 503, body: 'Service Unavailable' });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages }),
  });
  t.equal(res.status, 503, 'status of the last failure');
  const body = (await res.json()) as { error?: Record<string, unknown> };
  t.same(
    Object.keys(body.error ?? {}).sort(),
    ['code', 'message', 'param', 'type'],
    'a non-JSON upstream body becomes an OpenAI body',
  );
});

t.test('every route hangs: 504', async (t) => {
  primary.behave({ kind: 'hang' });
  secondary.behave({ kind: 'hang' });
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, InternalServerError, 'an InternalServerError');
  t.equal((err as APIError).status, 504, 'status 504');
  t.equal((err as APIError).code, 'upstream_timeout', 'code upstream_timeout');
  t.equal(primary.requests.length + secondary.requests.length, 2, 'each route was tried once');
});

t.test('upstream 401 echoing the provider key: 502 and no fragment of any key', async (t) => {
  const echo = (key: string) => ({
    error: {
      message: `Incorrect API key provided: ${key.slice(0, 12)}***${key.slice(-4)} (${key})`,
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    },
  });
  primary.behave({ kind: 'error', status: 401, body: echo(PRIMARY_API_KEY) });
  secondary.behave({ kind: 'error', status: 403, body: echo(SECONDARY_API_KEY) });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages }),
  });
  t.equal(res.status, 502, 'status 502, not the upstream 401');
  const text = `${JSON.stringify([...res.headers])}${await res.text()}`;
  for (const fragment of ['sk-upstream', 'SECRET', '1234', '5678', 'Incorrect API key']) {
    t.notOk(text.includes(fragment), `the response does not contain "${fragment}"`);
  }
  t.equal(secondary.requests.length, 1, 'the next route was tried first');
});

t.test('upstream 401 on the primary only: the secondary answers', async (t) => {
  primary.behave({ kind: 'error', status: 401 });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  answeredBySecondary(t, completion.choices[0]?.message.content);
  t.equal(primary.requests[0]?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`, 'the primary got its own key');
});

t.test('upstream 400 is relayed in its envelope without fallback', async (t) => {
  const body = {
    error: {
      message: "Invalid value for 'temperature': 9 is greater than the maximum of 2.",
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'decimal_above_max_value',
    },
  };
  primary.behave({ kind: 'error', status: 400, body });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages, temperature: 9 }),
  });
  t.equal(res.status, 400, 'status 400');
  t.equal(await res.text(), JSON.stringify(body), 'the upstream body byte for byte');
  t.equal(secondary.requests.length, 0, 'no fallback for a client error');
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages, temperature: 9 }));
  t.type(err, BadRequestError, 'the SDK raises BadRequestError');
  t.equal((err as APIError).param, 'temperature', 'with the upstream param');
});

t.test('an upstream JSON answer cut mid-body falls through to the next route; cut on every route, a 502', async (t) => {
  primary.behave({ kind: 'cut', afterChunks: 1 });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  answeredBySecondary(t, completion.choices[0]?.message.content);
  secondary.behave({ kind: 'cut', afterChunks: 1 });
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, InternalServerError, 'an InternalServerError');
  t.equal((err as APIError).status, 502, 'status 502');
  t.equal((err as APIError).code, 'upstream_unavailable', 'code upstream_unavailable');
  primary.behave({ kind: 'ok' });
  const next = await client.chat.completions.create({ model: ALIAS, messages });
  t.equal(next.choices[0]?.message.content, DEFAULT_TEXT, 'the next request is served');
});
