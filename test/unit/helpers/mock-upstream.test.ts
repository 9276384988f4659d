// Self-test for the fake OpenAI upstream: the official SDK must accept everything it sends,
// and the raw SSE bytes must be framed exactly as OpenAI frames them.
import t from 'tap';
import OpenAI, { AuthenticationError, APIConnectionError, NotFoundError, RateLimitError } from 'openai';
import {
  DEFAULT_PROMPT_TOKENS,
  DEFAULT_TEXT,
  MOCK_MODELS,
  startMockUpstream,
  wordChunks,
} from '../../helpers/mock-upstream.js';

const mock = await startMockUpstream();
t.teardown(() => mock.close());
t.beforeEach(() => mock.reset());
// maxRetries: 0 so error behaviours surface at once instead of being retried by the SDK.
const client = new OpenAI({ apiKey: 'sk-test-key-1234', baseURL: mock.baseUrl, maxRetries: 0 });
const WORDS = wordChunks(DEFAULT_TEXT).length; // = completion_tokens with default options
const messages = [{ role: 'user' as const, content: 'hi' }];

/** POST JSON with plain fetch and return the raw body text (to check framing byte-for-byte). */
async function rawPost(path: string, body: unknown): Promise<{ res: Response; text: string }> {
  const res = await fetch(`${mock.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

t.test('wordChunks keeps whitespace so chunks concatenate to the text', async (t) => {
  t.same(
    wordChunks('Hello from  the mock. '),
    ['Hello', ' from', '  the', ' mock. '],
    'leading whitespace per word, trailing kept',
  );
  t.equal(wordChunks(DEFAULT_TEXT).join(''), DEFAULT_TEXT, 'default text round-trips');
  t.same(wordChunks(''), [], 'empty text has no chunks');
});

t.test('chat non-stream', async (t) => {
  const { data, response } = await client.chat.completions.create({ model: 'gpt-upstream-x', messages }).withResponse();
  t.match(data.id, /^chatcmpl-/, 'id has the chatcmpl- prefix');
  t.equal(data.object, 'chat.completion', 'object is chat.completion');
  t.equal(data.model, 'gpt-upstream-x', 'model echoes the model received');
  t.equal(data.choices[0]?.message.content, DEFAULT_TEXT, 'content is the configured text');
  t.equal(data.choices[0]?.finish_reason, 'stop', 'finish_reason stop');
  t.match(
    data.usage,
    { prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: WORDS, total_tokens: DEFAULT_PROMPT_TOKENS + WORDS },
    'usage is deterministic',
  );
  t.match(response.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/, 'x-request-id header');
  t.ok(response.headers.get('openai-processing-ms'), 'openai-processing-ms header');
  t.equal(mock.requests.length, 1, 'one request recorded');
  t.match(
    mock.requests[0],
    { method: 'POST', path: '/v1/chat/completions', body: { model: 'gpt-upstream-x' } },
    'request recorded with parsed body',
  );
  t.equal(mock.requests[0]?.headers.authorization, 'Bearer sk-test-key-1234', 'headers recorded');
});

t.test('chat stream without include_usage has no usage chunk', async (t) => {
  const stream = await client.chat.completions.create({ model: 'm', messages, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  t.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
    DEFAULT_TEXT,
    'deltas concatenate to the text',
  );
  t.equal(chunks.length, WORDS + 2, 'role chunk + one per word + finish chunk');
  t.equal(chunks[0]?.choices[0]?.delta.role, 'assistant', 'first delta carries the role');
  t.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop', 'last chunk has finish_reason');
  t.ok(chunks.every((c) => !('usage' in c)), 'no usage key at all');
  t.equal(new Set(chunks.map((c) => `${c.id}/${c.created}`)).size, 1, 'same id and created on every chunk');
});

t.test('chat stream with include_usage ends with a usage chunk', async (t) => {
  const stream = await client.chat.completions.create({
    model: 'm',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const last = chunks.at(-1);
  t.same(last?.choices, [], 'usage chunk has empty choices');
  t.match(
    last?.usage,
    { prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: WORDS },
    'usage chunk carries totals',
  );
  t.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'every other chunk has usage: null');
});

t.test('raw chat SSE framing', async (t) => {
  const { res, text } = await rawPost('/chat/completions', {
    model: 'm',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  t.match(res.headers.get('content-type'), /^text\/event-stream/, 'event-stream content type');
  t.ok(text.endsWith('data: [DONE]\n\n'), 'ends with data: [DONE]');
  const events = text.split('\n\n').filter(Boolean);
  t.ok(events.every((e) => /^data: [^\n]+$/.test(e)), 'every event is a single data-only line');
  t.equal(events.length, WORDS + 4, 'role + words + finish + usage + [DONE]');
});

t.test('max_tokens truncates with finish_reason length', async (t) => {
  const data = await client.chat.completions.create({ model: 'm', messages, max_tokens: 2 });
  t.equal(data.choices[0]?.message.content, wordChunks(DEFAULT_TEXT).slice(0, 2).join(''), 'two word chunks');
  t.equal(data.choices[0]?.finish_reason, 'length', 'finish_reason length');
  t.equal(data.usage?.completion_tokens, 2, 'completion tokens follow the truncation');
});

t.test('responses non-stream', async (t) => {
  const r = await client.responses.create({ model: 'resp-model', input: 'hi' });
  t.match(r.id, /^resp_/, 'id prefix resp_');
  t.equal(r.status, 'completed', 'status completed');
  t.equal(r.output_text, DEFAULT_TEXT, 'output_text is the text');
  t.match(
    r.usage,
    {
      input_tokens: DEFAULT_PROMPT_TOKENS,
      output_tokens: WORDS,
      total_tokens: DEFAULT_PROMPT_TOKENS + WORDS,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    },
    'usage fields',
  );
});

t.test('responses stream', async (t) => {
  const stream = await client.responses.create({ model: 'm', input: 'hi', stream: true });
  const events = [];
  for await (const e of stream) events.push(e);
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers count from 0');
  t.equal(events[0]?.type, 'response.created', 'starts with response.created');
  const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
  t.equal(deltas.join(''), DEFAULT_TEXT, 'deltas concatenate to the text');
  const done = events.at(-1);
  t.equal(done?.type, 'response.completed', 'ends with response.completed');
  if (done?.type === 'response.completed') {
    t.match(
      done.response.usage,
      { input_tokens: DEFAULT_PROMPT_TOKENS, output_tokens: WORDS },
      'completed carries usage',
    );
  }
});

t.test('raw responses SSE framing', async (t) => {
  const { text } = await rawPost('/responses', { model: 'm', input: 'hi', stream: true });
  const events = text.split('\n\n').filter(Boolean);
  t.ok(
    events.every((e) => {
      const [ev, data] = e.split('\n');
      return ev?.slice(7) === JSON.parse(data!.slice(6)).type;
    }),
    'event: line names the data type',
  );
  t.notOk(text.includes('[DONE]'), 'no [DONE] sentinel');
});

t.test('error behaviours raise the SDK status classes', async (t) => {
  mock.behave({ kind: 'error', status: 429, headers: { 'retry-after': '1' } });
  const rate = await client.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
  t.type(rate, RateLimitError, '429 is a RateLimitError');
  t.equal((rate as RateLimitError).headers.get('retry-after'), '1', 'extra headers are sent');
  mock.behave({ kind: 'error', status: 401 });
  const auth = await client.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
  t.type(auth, AuthenticationError, '401 is an AuthenticationError');
  t.match((auth as AuthenticationError).message, /sk-\*\*\*1234/, '401 echoes a masked key');
  mock.behave(() => ({ kind: 'destroy' }));
  t.type(await client.models.list().catch((e: unknown) => e), APIConnectionError, 'destroy is a connection error');
});

t.test('unknown route is an OpenAI-shaped 404; models lists', async (t) => {
  t.type(
    await client.embeddings.create({ model: 'm', input: 'x' }).catch((e: unknown) => e),
    NotFoundError,
    '404 for unknown route',
  );
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  t.same(ids, MOCK_MODELS, 'models list');
});

t.test('cut ends the stream after N content chunks without a finish', async (t) => {
  mock.behave({ kind: 'cut', afterChunks: 2 });
  const stream = await client.chat.completions.create({ model: 'm', messages, stream: true });
  const content: string[] = [];
  const error = await (async () => {
    for await (const c of stream) content.push(c.choices[0]?.delta.content ?? '');
  })().then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(error instanceof Error, 'iteration fails because the socket was destroyed');
  t.equal(content.join(''), wordChunks(DEFAULT_TEXT).slice(0, 2).join(''), 'exactly the first two words arrived');
  t.notOk(mock.requests[0]?.aborted, 'a mock-side cut is not a client abort');
});

t.test('client abort is detected', async (t) => {
  mock.behave({ kind: 'slow', chunkDelayMs: 200 });
  const ac = new AbortController();
  const res = await fetch(`${mock.baseUrl}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'm', stream: true }),
    signal: ac.signal,
  });
  t.equal(res.status, 200, 'slow stream sends headers at once');
  ac.abort();
  const rec = await mock.waitForAbort(2000);
  t.equal(rec.aborted, true, 'recorded request marked aborted');
  mock.behave({ kind: 'hang' });
  const hung = fetch(`${mock.baseUrl}/models`, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
  t.type(await hung, Error, 'hang never answers');
  t.equal((await mock.waitForAbort(2000)).path, '/v1/models', 'abort of the hung request is reported');
});
