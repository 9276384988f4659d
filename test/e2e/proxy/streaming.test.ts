// Streaming passthrough: SSE bytes relayed as they arrive and unchanged, a client that
// leaves aborts the upstream request, an upstream that breaks off ends the client's stream with an
// error, and the gateway keeps serving afterwards.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { APIError } from 'openai';
import { request } from 'undici';
import { ALIAS, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';

const RECORDED = 'recorded';
const WORDS = wordChunks(DEFAULT_TEXT);

/** Forwards to `targetOrigin` and keeps the response bytes it relayed, so tests can compare them. */
async function startRecordingProxy(targetOrigin: string) {
  const exchanges: Array<{ chunks: Buffer[]; ended: boolean }> = [];
  const server = http.createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  async function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const exchange = { chunks: [] as Buffer[], ended: false };
    exchanges.push(exchange);
    const { host: _host, connection: _connection, ...headers } = req.headers;
    const upstream = await request(`${targetOrigin}${req.url}`, {
      method: 'POST',
      headers,
      body: Buffer.concat(await req.toArray()),
    });
    const { 'transfer-encoding': _te, connection: _c, 'keep-alive': _ka, ...responseHeaders } = upstream.headers;
    res.writeHead(upstream.statusCode, responseHeaders);
    for await (const chunk of upstream.body) {
      exchange.chunks.push(chunk);
      res.write(chunk);
    }
    exchange.ended = true;
    res.end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { baseUrl: `http://127.0.0.1:${port}/v1`, exchanges, close, bytes: (i: number) => Buffer.concat(exchanges[i]?.chunks ?? []) };
}

const mock = await startMockUpstream();
const proxy = await startRecordingProxy(`http://127.0.0.1:${mock.port}`);
const gw = await startGateway({
  primary: mock,
  configure: (raw) => {
    raw.providers.recorded = { baseUrl: proxy.baseUrl, apiKey: 'sk-upstream-recorded-SECRET4321' };
    raw.models[RECORDED] = { routes: [{ provider: 'recorded', model: 'gpt-4.1-nano' }] };
  },
});
t.teardown(async () => {
  await gw.close();
  await proxy.close();
  await mock.close();
});
t.beforeEach(() => {
  mock.reset();
  proxy.exchanges.length = 0;
});

const client = gw.client();
const messages = [{ role: 'user' as const, content: 'hi' }];

async function rawStream(path: string, body: object): Promise<{ status: number; contentType: unknown; bytes: Buffer }> {
  const res = await request(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.statusCode,
    contentType: res.headers['content-type'],
    bytes: Buffer.from(await res.body.arrayBuffer()),
  };
}

t.test('chat SSE with include_usage is relayed byte for byte', async (t) => {
  const res = await rawStream('/v1/chat/completions', {
    model: RECORDED,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  t.equal(res.status, 200, 'status 200');
  t.match(res.contentType, /^text\/event-stream/, 'event-stream content type');
  t.ok(proxy.bytes(0).length > 0, 'the upstream sent a body');
  t.ok(res.bytes.equals(proxy.bytes(0)), 'the client received exactly the upstream bytes');
});

t.test('Responses SSE is relayed byte for byte', async (t) => {
  const res = await rawStream('/v1/responses', { model: RECORDED, input: 'hi', stream: true });
  t.ok(res.bytes.equals(proxy.bytes(0)), 'the client received exactly the upstream bytes');
});

t.test('chat SSE without include_usage: only the usage-only event is removed', async (t) => {
  const res = await rawStream('/v1/chat/completions', { model: RECORDED, messages, stream: true });
  const upstreamEvents = proxy.bytes(0).toString('utf8').split(/(?<=\n\n)/);
  const usageEvents = upstreamEvents.filter((e) => e.includes('"choices":[]'));
  t.equal(usageEvents.length, 1, 'the upstream sent one usage-only event');
  const expected = upstreamEvents.filter((e) => !usageEvents.includes(e)).join('');
  t.equal(res.bytes.toString('utf8'), expected, 'every other event arrived unchanged and in order');
});

t.test('chunks are relayed as they arrive', async (t) => {
  mock.behave({ kind: 'slow', chunkDelayMs: 40 });
  for (const includeUsage of [false, true]) {
    const stream = await client.chat.completions.create({
      model: RECORDED,
      messages,
      stream: true,
      stream_options: { include_usage: includeUsage },
    });
    let text = '';
    let upstreamEndedAtFirstContent: boolean | undefined;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content && upstreamEndedAtFirstContent === undefined) {
        upstreamEndedAtFirstContent = proxy.exchanges.at(-1)?.ended;
      }
      text += content ?? '';
    }
    t.equal(
      upstreamEndedAtFirstContent,
      false,
      `include_usage=${includeUsage}: the first word arrived while the upstream was still sending`,
    );
    t.equal(text, DEFAULT_TEXT, `include_usage=${includeUsage}: the whole text arrived`);
  }
});

t.test('a client that disconnects mid-stream aborts the upstream request', async (t) => {
  mock.behave({ kind: 'slow', chunkDelayMs: 200 });
  const stream = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
  let received = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content) received++;
    if (received === 1) break; // leaving the loop aborts the SDK's request
  }
  const aborted = await mock.waitForAbort(5_000);
  t.equal(aborted.aborted, true, 'the upstream saw the request aborted');
  t.equal(aborted.body.stream, true, 'it was the streaming request');
});

t.test('a client that disconnects before the upstream answers aborts the upstream request', async (t) => {
  let received!: () => void;
  const arrived = new Promise<void>((resolve) => (received = resolve));
  mock.behave(() => {
    received();
    return { kind: 'hang' };
  });
  const controller = new AbortController();
  const pending = client.chat.completions
    .create({ model: ALIAS, messages, stream: true }, { signal: controller.signal })
    .catch((err: unknown) => err);
  await arrived;
  controller.abort();
  t.type(await pending, Error, 'the client call was aborted');
  t.equal((await mock.waitForAbort(5_000)).aborted, true, 'the upstream saw the request aborted');
});

t.test('an upstream cut mid-stream ends the client stream with an error; the gateway stays healthy', async (t) => {
  for (const [label, create] of [
    ['chat', () => client.chat.completions.create({ model: ALIAS, messages, stream: true })],
    [
      'chat include_usage',
      () =>
        client.chat.completions.create({
          model: ALIAS,
          messages,
          stream: true,
          stream_options: { include_usage: true },
        }),
    ],
  ] as const) {
    mock.behave({ kind: 'cut', afterChunks: 2 });
    const stream = await create();
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, APIError, `${label}: the SDK iteration throws`);
    t.equal(text, WORDS.slice(0, 2).join(''), `${label}: the words sent before the cut arrived`);
  }
  mock.behave({ kind: 'cut', afterChunks: 2 });
  const responses = await client.responses.create({ model: ALIAS, input: 'hi', stream: true });
  const err = await (async () => {
    for await (const _event of responses);
  })().then(() => undefined, (e: unknown) => e);
  t.type(err, Error, 'responses: the SDK iteration throws');

  mock.behave({ kind: 'ok' });
  const health = await fetch(`${gw.url}/healthz`);
  t.equal(health.status, 200, 'healthz still answers');
  const completion = await client.chat.completions.create({ model: ALIAS, messages });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the next request is served');
});
