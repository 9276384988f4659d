// SIGTERM on the real server process: /readyz turns 503 while draining, an active stream finishes and
// its usage is recorded; a stream that outlives the grace period is cut and recorded as estimated; the
// process exits as soon as in-flight work is done (not at the end of the grace period), also when the
// process reading its logs has gone away.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { DEFAULT_TEXT, startMockUpstream } from '../../helpers/mock-upstream.js';

const KEY = 'sk-tg-shutdown-test-0123456789abcdef';
const messages = [{ role: 'user' as const, content: 'Say hello.' }];

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

interface Server {
  url: string;
  child: ChildProcess;
  /** Every stdout log line, parsed. */
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startServer(t: Test, upstream: string, server: Record<string, number>): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-shutdown-'));
  const config = {
    server: { host: '127.0.0.1', ...server },
    providers: { mock: { baseUrl: upstream, apiKey: 'sk-upstream-test' } },
    models: {
      'gpt-4.1-nano': {
        routes: [{ provider: 'mock', model: 'gpt-4.1-nano' }],
        pricing: { input: 0.1, output: 0.4 },
      },
    },
    tiers: { 'tier-5': { rpm: 30000 } },
    keys: [{ name: 'shutdown', key: KEY, tier: 'tier-5' }],
  };
  writeFileSync(join(dir, 'tollgate.json'), JSON.stringify(config));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, TOLLGATE_CONFIG: join(dir, 'tollgate.json'), PORT: String(port), REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  const listening = new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (String(entry.msg).startsWith('Server listening')) resolve();
      }
    });
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await listening;
  return { url: `http://127.0.0.1:${port}`, child, lines, exited };
}

const completedLine = (lines: Server['lines']) => lines.find((l) => l.msg === 'request completed' && l.stream === true);

t.test('SIGTERM lets an active stream finish, records its usage, and reports draining', async (t) => {
  const mock = await startMockUpstream();
  t.teardown(() => mock.close());
  mock.behave({ kind: 'slow', chunkDelayMs: 150 });
  // /readyz is asked 100 ms into the drain delay: the delay leaves a busy machine seconds to answer it.
  const server = await startServer(t, mock.baseUrl, { drainDelayMs: 3_000, shutdownGraceMs: 10_000 });
  const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });

  const stream = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages, stream: true });
  let text = '';
  let signalled = false;
  let readyDuringDrain: number | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (!signalled) {
      signalled = true;
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));
      readyDuringDrain = (await fetch(`${server.url}/readyz`)).status;
    }
  }
  t.equal(readyDuringDrain, 503, '/readyz answers 503 while draining');
  t.equal(text, DEFAULT_TEXT, 'the stream was delivered whole after SIGTERM');
  t.equal(await server.exited, 0, 'the process exits 0 once the stream is done');
  t.match(
    completedLine(server.lines),
    { completed: true, usage: { estimated: false, completionTokens: 5 } },
    'the stream usage was recorded from the upstream report',
  );
});

t.test('a stream that outlives the grace period is cut and recorded as estimated', async (t) => {
  const mock = await startMockUpstream();
  t.teardown(() => mock.close());
  mock.behave({ kind: 'slow', chunkDelayMs: 2_000 });
  const server = await startServer(t, mock.baseUrl, { drainDelayMs: 0, shutdownGraceMs: 300 });
  const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });

  const stream = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages, stream: true });
  const iterate = (async () => {
    for await (const _chunk of stream) server.child.kill('SIGTERM');
  })();
  await t.rejects(iterate, 'the client sees its stream end early');
  t.equal(await server.exited, 0, 'the process still exits 0');
  t.match(
    completedLine(server.lines),
    { completed: false, usage: { estimated: true } },
    'the cut stream was recorded as estimated',
  );
  t.equal(mock.requests[0]?.aborted, true, 'the upstream request was aborted');
});

/** Resolves with the exit code, or with 'still running' if the process has not exited after `boundMs`. */
function exitWithin(server: Server, boundMs: number): Promise<number | null | 'still running'> {
  return Promise.race([
    server.exited,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), boundMs).unref()),
  ]);
}

/** A raw keep-alive connection that has had one answer and now sits idle; `closed` resolves when the server ends it. */
async function idleKeepAliveSocket(url: string): Promise<{ closed: Promise<void> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /healthz HTTP/1.1\r\nhost: tollgate\r\nconnection: keep-alive\r\n\r\n');
  let received = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/\r\n\r\n[\s\S]*\}/.test(received)) resolve(); // headers and the JSON body of /healthz
    });
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined); // a reset instead of a clean end would also close it
  return { closed };
}

t.test(
  'SIGTERM exits as soon as in-flight work is done, not when the grace period ends: ' +
    'answers during the drain say connection: close',
  async (t) => {
    const mock = await startMockUpstream();
    t.teardown(() => mock.close());
    // The non-stream request is answered well after SIGTERM; the stream sends a chunk every 400 ms.
    mock.behave((req) => ({ kind: 'slow', chunkDelayMs: req.body?.stream ? 400 : 3_000 }));
    // A grace period far beyond tap's per-file timeout: waiting for it would fail the test.
    const server = await startServer(t, mock.baseUrl, { drainDelayMs: 0, shutdownGraceMs: 600_000 });
    const idle = await idleKeepAliveSocket(server.url);
    let idleClosedDuringStream = false;
    void idle.closed.then(() => (idleClosedDuringStream = !streamDone));
    let streamDone = false;

    const nonStream = request(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', connection: 'keep-alive' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages }),
    });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages, stream: true });
    let text = '';
    let signalled = false;
    for await (const chunk of stream) {
      if (!signalled) signalled = server.child.kill('SIGTERM');
      text += chunk.choices[0]?.delta.content ?? '';
    }
    streamDone = true;
    const answer = await nonStream;
    await answer.body.text();

    t.equal(text, DEFAULT_TEXT, 'the stream in flight at SIGTERM was delivered whole');
    t.ok(
      idleClosedDuringStream,
      'the idle keep-alive socket was closed at SIGTERM, while the stream was still running',
    );
    t.equal(answer.statusCode, 200, 'the request in flight at SIGTERM was answered');
    t.equal(answer.headers.connection, 'close', 'its answer, sent during the drain, says connection: close');
    t.equal(
      await exitWithin(server, 30_000),
      0,
      'the process exited 0 once both were done (grace period: 10 minutes)',
    );
    t.notOk(
      server.lines.some((l) => String(l.msg).startsWith('grace period over')),
      'no connection had to be cut at the end of the grace period',
    );
    t.ok(
      server.lines.some((l) => l.msg === 'shut down cleanly'),
      'it logged a clean shutdown',
    );
  },
);

t.test('a gateway whose log reader went away still exits on SIGTERM (EPIPE on stdout)', async (t) => {
  const mock = await startMockUpstream();
  t.teardown(() => mock.close());
  mock.behave({ kind: 'slow', chunkDelayMs: 200 });
  const server = await startServer(t, mock.baseUrl, { drainDelayMs: 0, shutdownGraceMs: 600_000 });
  server.child.stdout!.destroy(); // the process reading the logs exits: every later write gets EPIPE
  const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  // Requests keep logging after the pipe closed, and one is still in flight (logging) at SIGTERM.
  t.equal(
    (await client.chat.completions.create({ model: 'gpt-4.1-nano', messages })).choices[0]?.message.content,
    DEFAULT_TEXT,
    'requests are still served',
  );
  const inFlight = client.chat.completions.create({ model: 'gpt-4.1-nano', messages });
  while (mock.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  server.child.kill('SIGTERM');
  t.equal((await inFlight).choices[0]?.message.content, DEFAULT_TEXT, 'the request in flight at SIGTERM is answered');
  t.equal(await exitWithin(server, 30_000), 0, 'the process exits 0 although its stdout is a broken pipe');
});
