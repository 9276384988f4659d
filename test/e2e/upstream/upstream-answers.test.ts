// What the client and the logs get when an upstream answers badly: provider keys echoed in errors,
// truncated 200s, 404s and non-OpenAI error bodies, a client's Expect: 100-continue, providers without
// a key, and JSON answers larger than the buffering bound.
import http from 'node:http';
import t from 'tap';
import { APIError, BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { ALIAS, PRIMARY_API_KEY, SECONDARY_API_KEY, SECONDARY_MODEL, gatewayFixture } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT } from '../../helpers/mock-upstream.js';
import type { Usage } from '../../../src/openai/usage.js';

const MAX_BUFFERED = 256 * 1024;
const fixture = await gatewayFixture(t, {
  secondary: true,
  captureLogs: true,
  configure: (raw) => {
    raw.upstream.maxBufferedAnswerBytes = MAX_BUFFERED;
    raw.providers.keyless = { baseUrl: 'http://127.0.0.1:9/v1' }; // apiKey unset; nothing listens there either
    raw.models['keyless-first'] = {
      routes: [
        { provider: 'keyless', model: 'x' },
        { provider: 'secondary', model: SECONDARY_MODEL },
      ],
    };
    raw.models['keyless-only'] = { routes: [{ provider: 'keyless', model: 'x' }] };
  },
});
const { primary, gw } = fixture;
const secondary = fixture.secondary!;
const client = gw.client();
const messages = [{ role: 'user' as const, content: 'hi' }];
const fail = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);
const post = (body: object) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const envelopeKeys = (body: { error?: object }) => Object.keys(body.error ?? {}).sort();

/**
 * Every 8-character piece of both provider keys, and their masked forms ("***1234", "...5678"). Plain
 * words in the test keys ("upstream", "secondary") are ordinary text, and may appear in any line.
 */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const key of [PRIMARY_API_KEY, SECONDARY_API_KEY]) {
    for (let i = 0; i + 8 <= key.length; i++) {
      const piece = key.slice(i, i + 8);
      if (text.includes(piece) && !/^[a-z-]+$/.test(piece)) found.push(piece);
    }
    if (new RegExp(`(\\*\\*|\\.\\.|…)${key.slice(-4)}`).test(text)) found.push(`masked …${key.slice(-4)}`);
  }
  return found;
}
const echoing = (key: string, type = 'invalid_request_error') => ({
  error: {
    message:
      `Incorrect API key provided: ${key}. ` +
      `Shown as ${key.slice(0, 7)}****************${key.slice(-4)} or ...${key.slice(-4)} or ${key.slice(3, 15)}.`,
    type,
    param: null,
    code: 'echo',
  },
});

t.test('a provider key echoed in an upstream 400 reaches neither the client nor the logs', async (t) => {
  primary.behave({ kind: 'error', status: 400, body: echoing(PRIMARY_API_KEY) });
  const res = await post({ model: ALIAS, messages });
  const text = `${JSON.stringify([...res.headers])}${await res.text()}`;
  t.equal(res.status, 400, 'the client error is relayed with its status');
  t.match(
    JSON.parse(text.slice(text.indexOf('{"error"'))),
    { error: { message: /^Incorrect API key provided: \[redacted\]/, code: 'echo' } },
    'the message, redacted',
  );
  t.same(leaks(text), [], 'no piece of a provider key in the answer');
  t.equal(secondary.requests.length, 0, 'a client error does not fall through');
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, BadRequestError, 'the SDK raises BadRequestError');
  t.same(leaks(gw.logs.lines.join('\n')), [], 'no piece of a provider key in any log line');
});

t.test('provider keys echoed in a 500 and a 429 reach neither the client nor the error log', async (t) => {
  primary.behave({ kind: 'error', status: 500, body: echoing(PRIMARY_API_KEY, 'server_error') });
  secondary.behave({ kind: 'error', status: 429, body: echoing(SECONDARY_API_KEY, 'requests') });
  const res = await post({ model: ALIAS, messages });
  const text = await res.text();
  t.equal(res.status, 429, 'the last failure sets the status');
  t.same(leaks(text), [], 'no piece of a provider key in the answer');
  await gw.logs.waitFor(
    (e) => e.msg === 'upstream attempt failed; trying the next route' && e.provider === 'secondary',
  );
  t.ok(
    gw.logs.entries().some((e) => e.provider === 'primary' && /\[redacted\]/.test(String(e.upstreamMessage ?? ''))),
    'the attempt is logged with its redacted message',
  );
  t.same(leaks(gw.logs.lines.join('\n')), [], 'no piece of a provider key in any log line');
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, RateLimitError, 'the SDK raises RateLimitError');
  t.same(leaks(String((err as APIError).message)), [], 'nor in what the SDK shows');
});

t.test('a 200 with a truncated JSON body is a 502, and the next route answers when there is one', async (t) => {
  const truncated = {
    kind: 'raw' as const,
    status: 200,
    text: '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess',
  };
  primary.behave(truncated);
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the secondary answered');
  secondary.behave(truncated);
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, InternalServerError, 'no route gave valid JSON: InternalServerError');
  t.equal((err as APIError).status, 502, 'status 502');
  t.equal((err as APIError).code, 'upstream_unavailable', 'code upstream_unavailable');
});

t.test('an upstream 404 (a retired model id) falls through to the next route', async (t) => {
  primary.behave({ kind: 'error', status: 404 });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the secondary answered');
  t.equal(primary.requests.length, 1, 'after the primary was tried');
});

t.test('every route failing: one OpenAI-shaped error that names each provider tried', async (t) => {
  primary.behave({ kind: 'error', status: 500 });
  secondary.behave({ kind: 'raw', status: 404, text: '{"detail":"Not Found"}' });
  const res = await post({ model: ALIAS, messages });
  const body = (await res.json()) as { error: { message: string } };
  t.equal(res.status, 404, 'the last failure sets the status');
  t.same(envelopeKeys(body), ['code', 'message', 'param', 'type'], "OpenAI's envelope");
  t.match(
    body.error.message,
    /^All 2 routes failed: primary: 500 The server had an error.*; secondary: 404 Not Found$/,
    'both providers, each with its message',
  );
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, NotFoundError, 'the SDK raises NotFoundError');
});

t.test('a {"detail": ...} error body is relayed inside OpenAI\'s envelope', async (t) => {
  const detail = [{ loc: ['body', 'messages'], msg: 'field required', type: 'value_error.missing' }];
  primary.behave({ kind: 'raw', status: 422, text: JSON.stringify({ detail }) });
  const res = await post({ model: ALIAS, messages });
  const body = (await res.json()) as { error: { message: string; type: string } };
  t.equal(res.status, 422, 'its status');
  t.same(envelopeKeys(body), ['code', 'message', 'param', 'type'], "OpenAI's envelope");
  t.match(body.error, { message: /field required/, type: 'invalid_request_error' }, 'with the upstream message');
  t.equal(secondary.requests.length, 0, 'a client error does not fall through');
  primary.behave({ kind: 'raw', status: 400, text: 'Bad Request: <b>nope</b>', contentType: 'text/html' });
  const err = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(err, BadRequestError, 'plain text too: the SDK raises BadRequestError');
  t.match((err as APIError).message, /Bad Request: <b>nope<\/b>/, 'with the text as its message');
});

t.test('a client sending Expect: 100-continue gets the answer, and Expect is not forwarded', async (t) => {
  const body = JSON.stringify({ model: ALIAS, messages });
  const answer = await new Promise<{ status: number; text: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.key}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (text += chunk))
        .on('end', () => resolve({ status: res.statusCode ?? 0, text, continued }));
    });
    req.on('error', reject);
  });
  t.equal(answer.continued, true, 'the gateway answered 100 Continue');
  t.equal(answer.status, 200, `the request was served (${answer.text.slice(0, 120)})`);
  t.equal(JSON.parse(answer.text).choices[0].message.content, DEFAULT_TEXT, 'with the upstream answer');
  t.equal(primary.requests[0]?.headers.expect, undefined, 'no Expect header upstream');
});

t.test('a provider without an apiKey is skipped; a model with no other provider is a 503', async (t) => {
  const completion = await client.chat.completions.create({ model: 'keyless-first', messages });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the credentialed route answered');
  t.notOk(
    gw.logs.entries().some((e) => e.provider === 'keyless'),
    'no attempt was made (or logged) on the keyless provider',
  );
  const err = await fail(client.chat.completions.create({ model: 'keyless-only', messages }));
  t.type(err, InternalServerError, 'InternalServerError');
  t.equal((err as APIError).status, 503, 'status 503');
  t.equal((err as APIError).code, 'no_provider_credentials', 'code no_provider_credentials');
  t.match((err as APIError).message, /keyless/, 'naming the skipped provider');
});

t.test('a JSON answer larger than maxBufferedAnswerBytes is streamed through whole, with its usage', async (t) => {
  primary.behave({ kind: 'huge', bytes: 5 * 1024 * 1024 });
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  const content = completion.choices[0]?.message.content ?? '';
  t.ok(
    content.length >= 5 * 1024 * 1024 && content.startsWith('lorem ipsum'),
    `the whole answer arrived (${content.length} chars)`,
  );
  const line = await gw.logs.waitFor(
    (e) =>
      e.msg === 'request completed' &&
      (e.usage as Usage | undefined)?.completionTokens === completion.usage?.completion_tokens,
  );
  t.match(
    line.usage,
    { promptTokens: DEFAULT_PROMPT_TOKENS, estimated: false },
    "the upstream's own usage was recorded",
  );
});
