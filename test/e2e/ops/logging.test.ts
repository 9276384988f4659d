// Request ids and the per-request log line: x-request-id on every answer (the
// upstream's when it sent one), one pino line per proxied request with who/what/where/how long, and
// no client or provider key in any log line, even when the upstream refuses the provider key.
import t from 'tap';
import { ALIAS, PRIMARY_API_KEY, SECONDARY_API_KEY, gatewayFixture, randomKey } from '../../helpers/gateway.js';

const { primary, secondary: fallback, gw } = await gatewayFixture(t, { secondary: true, captureLogs: true });
const secondary = fallback!;

const client = gw.client();
const messages = [{ role: 'user' as const, content: 'hi' }];
/** The completion line of the next request: the first one written from line `from` on. */
const completedSince = (from: number) => gw.logs.waitFor((e, i) => i >= from && e.msg === 'request completed');

t.test('x-request-id is the upstream one when the upstream sent it', async (t) => {
  const { response } = await client.chat.completions.create({ model: ALIAS, messages }).withResponse();
  t.match(response.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/, "the mock upstream's request id (req_ + 32 hex)");
  primary.behave({ kind: 'error', status: 400, headers: { 'x-request-id': 'req_upstream_400' } });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages }),
  });
  await res.arrayBuffer();
  t.equal(res.headers.get('x-request-id'), 'req_upstream_400', 'a relayed upstream error keeps its request id');
});

t.test("x-request-id is the gateway's own when the gateway answers", async (t) => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
  await res.arrayBuffer();
  t.equal(res.status, 401, 'refused without a key');
  const id = res.headers.get('x-request-id');
  t.match(id, /^req_/, 'an x-request-id is still returned');
  if (id) t.ok(await gw.logs.waitFor((e) => e.reqId === id), 'and it is the reqId in the log');
});

t.test('one log line per proxied request, with key, model, provider, status and timings', async (t) => {
  for (const stream of [false, true]) {
    const from = gw.logs.lines.length;
    const answer = await client.chat.completions.create({ model: ALIAS, messages, stream });
    if (stream) for await (const _chunk of answer as AsyncIterable<unknown>);
    const line = await completedSince(from);
    t.match(
      line,
      { keyName: 'test', model: ALIAS, provider: 'primary', status: 200, stream },
      `stream=${stream}: who, what, where and the outcome`,
    );
    t.type(line.upstreamMs, 'number', `stream=${stream}: upstreamMs`);
    t.type(line.totalMs, 'number', `stream=${stream}: totalMs`);
    t.ok(Number(line.totalMs) >= Number(line.upstreamMs), `stream=${stream}: totalMs covers upstreamMs`);
    // A later request's line proves the first request's hooks have all run by now.
    const next = gw.logs.lines.length;
    await fetch(`${gw.url}/healthz`).then((res) => res.arrayBuffer());
    await completedSince(next);
    const lines = gw.logs.entries().filter((e) => e.reqId === line.reqId && e.msg === 'request completed');
    t.equal(lines.length, 1, `stream=${stream}: exactly one completion line for the request`);
  }
});

t.test('the line names the provider that answered after a fallback', async (t) => {
  primary.behave({ kind: 'error', status: 500 });
  const from = gw.logs.lines.length;
  await client.chat.completions.create({ model: ALIAS, messages });
  t.match(await completedSince(from), { provider: 'secondary', status: 200 }, 'provider secondary');
});

t.test('a stream abandoned by the client or cut by the upstream still writes its line', async (t) => {
  primary.behave({ kind: 'slow', chunkDelayMs: 100 });
  let from = gw.logs.lines.length;
  const stream = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
  // eslint-disable-next-line no-unreachable-loop -- the client leaves after the first chunk
  for await (const _chunk of stream) break;
  await primary.waitForAbort();
  t.match(
    await completedSince(from),
    { keyName: 'test', provider: 'primary', stream: true, completed: false },
    'abandoned: one line, not completed',
  );

  primary.behave({ kind: 'cut', afterChunks: 2 });
  from = gw.logs.lines.length;
  const cut = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
  await (async () => {
    for await (const _chunk of cut);
  })().catch(() => undefined);
  t.match(
    await completedSince(from),
    { provider: 'primary', stream: true, completed: false },
    'cut: one line, not completed',
  );
});

t.test('no client key and no provider key in any log line', async (t) => {
  const other = randomKey('unknown');
  await client.chat.completions.create(
    { model: ALIAS, messages },
    { headers: { 'x-api-key': gw.key, 'api-key': gw.key } },
  );
  const stream = await client.chat.completions.create({ model: ALIAS, messages, stream: true });
  for await (const _chunk of stream);
  await gw.client(other).chat.completions.create({ model: ALIAS, messages }).catch(() => undefined);
  primary.behave({ kind: 'error', status: 401 }); // echoes a masked form of the provider key
  secondary.behave({
    kind: 'error',
    status: 401,
    body: {
      error: {
        message: `bad key ${SECONDARY_API_KEY}`,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    },
  });
  const failed = await client.chat.completions.create({ model: ALIAS, messages }).catch((err: unknown) => err);
  t.match(failed, { status: 502 }, 'the refused credential became a 502');
  const refused = await gw.logs.waitFor((e) => /refused the provider credential/.test(String(e.msg)));
  t.ok(refused, 'the operator is told the provider refused the credential');
  const text = gw.logs.lines.join('');
  t.ok(gw.logs.lines.length > 0, 'log lines were captured');
  for (const secret of [gw.key, gw.key.slice(-16), other, PRIMARY_API_KEY, SECONDARY_API_KEY, 'SECRET', '***1234']) {
    t.notOk(text.includes(secret), `no "${secret.slice(0, 14)}…" in the logs`);
  }
});
