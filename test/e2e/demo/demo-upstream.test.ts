// The demo upstream on its own (src/demo/upstream.ts), as any OpenAI client would see it: the wire
// shapes of docs/wire.md §4–§6 and OpenAI-shaped errors. The gateway in front of it is demo.test.ts.
import t from 'tap';
import OpenAI, { BadRequestError, NotFoundError } from 'openai';
import { DEMO_MODEL } from '../../../src/demo/echo.js';
import { startDemoUpstream } from '../../../src/demo/upstream.js';
import { http } from '../../helpers/admin-http.js';

const upstream = await startDemoUpstream({ wordDelayMs: 0 });
t.teardown(() => upstream.close());
// It takes any credential: only the demo gateway in its own process knows its address.
const client = new OpenAI({ apiKey: 'anything', baseURL: upstream.baseUrl, maxRetries: 0 });
const hello = [{ role: 'user' as const, content: 'Hello' }];

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );

t.test('GET /v1/models lists the one model it serves', async (t) => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  t.same(ids, [DEMO_MODEL]);
});

t.test('a chat stream is data-only events: a role chunk, word chunks, a finish chunk, [DONE]', async (t) => {
  const res = await http(`${upstream.baseUrl}/chat/completions`, {
    method: 'POST',
    body: { model: DEMO_MODEL, messages: hello, stream: true },
  });
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = res.text.split('\n\n').filter((e) => e !== '');
  t.ok(events.every((e) => e.startsWith('data: ')), 'no event: lines, as OpenAI sends chat');
  t.equal(events.at(-1), 'data: [DONE]', 'ends with [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  t.match(chunks[0], { object: 'chat.completion.chunk', choices: [{ delta: { role: 'assistant', content: '' } }] });
  t.match(chunks.at(-1), { choices: [{ delta: {}, finish_reason: 'stop' }] });
  t.notOk(chunks.some((c) => 'usage' in c), 'no usage member without stream_options.include_usage');
  t.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id on every chunk');
});

t.test('a model it does not serve: 404 model_not_found', async (t) => {
  const err = await failure(client.chat.completions.create({ model: 'gpt-5', messages: hello }));
  t.type(err, NotFoundError);
  t.match(err, { code: 'model_not_found', param: 'model' });
});

t.test('a body without messages: 400 in OpenAI words', async (t) => {
  const err = await failure(client.chat.completions.create({ model: DEMO_MODEL } as never));
  t.type(err, BadRequestError);
  t.match(err, { code: 'missing_required_parameter', param: 'messages' });
});

t.test('a body that is not JSON, and a URL it does not serve: the OpenAI envelope', async (t) => {
  const notJson = await fetch(`${upstream.baseUrl}/responses`, { method: 'POST', body: '{"model":' });
  t.equal(notJson.status, 400);
  t.match(await notJson.json(), { error: { type: 'invalid_request_error', param: null, code: null } });
  const unknown = await http(`${upstream.baseUrl}/embeddings`, { method: 'POST', body: {} });
  t.equal(unknown.status, 404);
  t.match(unknown.body, { error: { message: /POST \/v1\/embeddings/, code: 'unknown_url' } });
});
