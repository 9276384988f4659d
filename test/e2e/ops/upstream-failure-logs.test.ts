// Routine upstream failures are one line each (provider, status, cause), never a stack trace or an error
// object, and a request whose routes all failed has one request line naming every provider tried.
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { ALIAS, startGateway, type Gateway, type LogEntry } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';

const mock = await startMockUpstream();
t.teardown(() => mock.close());
t.beforeEach(() => mock.reset());

/** A URL nothing listens on: a port the system just gave out and took back. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/v1`;
}

async function gateway(t: Test, primary: string, secondary: string): Promise<Gateway> {
  const gw = await startGateway({ primary, secondary, captureLogs: true });
  t.teardown(() => gw.close());
  return gw;
}

/** The one request of a test's own gateway, and its line. */
async function failedRequest(gw: Gateway): Promise<{ status: number; line: LogEntry }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  const line = await gw.logs.waitFor((e) => e.msg === 'request completed');
  return { status: res.status, line };
}

/** No line carries an error object or a stack: each failure is said in its fields. */
function noStacks(t: Test, gw: Gateway): void {
  for (const entry of gw.logs.entries()) {
    t.notOk('err' in entry, `"${entry.msg}": no err object`);
    t.notOk(/\n\s+at /.test(JSON.stringify(entry)), `"${entry.msg}": no stack trace`);
  }
  t.notOk(gw.logs.entries().some((e) => e.msg === 'request failed'), 'no separate "request failed" line');
}

t.test('every route answers 5xx: one line per attempt, and the request line names both providers', async (t) => {
  const gw = await gateway(t, mock.baseUrl, mock.baseUrl);
  mock.behave({ kind: 'error', status: 503 });
  const { status, line } = await failedRequest(gw);
  t.equal(status, 503, 'the last upstream status');
  const attempts = gw.logs.entries().filter((e) => e.msg === 'upstream attempt failed; trying the next route');
  t.match(
    attempts,
    [
      { level: 40, provider: 'primary', status: 503 },
      { level: 40, provider: 'secondary', status: 503 },
    ],
    'a warning per attempt, with provider and status',
  );
  t.match(
    line,
    {
      status: 503,
      keyName: 'test',
      model: ALIAS,
      attempts: 2,
      providers: ['primary', 'secondary'],
      error: /^All 2 routes failed: primary: 503 .*; secondary: 503 /,
    },
    'the request line: both providers, in order, and what each said',
  );
  noStacks(t, gw);
});

t.test('an unreachable provider: its cause in words, and the fallback answers', async (t) => {
  const gw = await gateway(t, await deadUrl(), mock.baseUrl);
  const res = await gw.client().chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] });
  t.ok(res.choices[0], 'the secondary answered');
  const attempt = await gw.logs.waitFor((e) => e.msg === 'upstream attempt failed; trying the next route');
  t.match(attempt, { provider: 'primary', cause: 'ECONNREFUSED' }, 'provider and cause');
  noStacks(t, gw);
});

t.test('every route unreachable: a 502 whose line names both providers, no stack', async (t) => {
  const gw = await gateway(t, await deadUrl(), await deadUrl());
  const { status, line } = await failedRequest(gw);
  t.equal(status, 502);
  t.match(line, { status: 502, code: 'upstream_unavailable', providers: ['primary', 'secondary'] });
  t.match(line.error, /primary: could not be reached \(ECONNREFUSED\).*secondary: could not be reached/);
  noStacks(t, gw);
});
