/**
 * The exchange without Fastify and without sockets: memory stores, a fake clock, undici's MockAgent
 * as the upstreams and a fake client connection. What it proves: whatever way a request ends (a
 * whole answer, a stream that ends and closes, a stream the client leaves, every route failing, the
 * client leaving before any answer), finish() runs exactly once — one usage record at most, one
 * settlement per reservation, the stream gauge back to zero, one completion line. And a Responses
 * answer leaves its record before it is sent, or is sent anyway when the store fails.
 */
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { test } from 'tap';
import { MockAgent } from 'undici';
import { parseConfig } from '../../src/config.js';
import type { GatewayError } from '../../src/errors.js';
import { Exchange, type ClientConnection, type ExchangeServices } from '../../src/exchange.js';
import type { ApiKeyRecord } from '../../src/keys/api-key.js';
import { AdmissionControl } from '../../src/limits/admission.js';
import type { Dimension, LimitRule, Limiter } from '../../src/limits/limiter.js';
import { MemoryLimiter } from '../../src/limits/memory-limiter.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { topLevelMembers } from '../../src/openai/json-scan.js';
import { checkBody } from '../../src/openai/request-body.js';
import type { Endpoint } from '../../src/openai/endpoint.js';
import type { Usage } from '../../src/openai/usage.js';
import { AnswerBuffers } from '../../src/upstream/answer-body.js';
import { ModelRouter } from '../../src/upstream/routing.js';
import { SecretRedactor } from '../../src/upstream/secret-redactor.js';
import { MemoryResponseStore } from '../../src/responses/memory-response-store.js';
import type { ResponseStore, StoredResponse } from '../../src/responses/stored-response.js';

const ALIAS = 'gpt-4.1-nano';
const PRIMARY = 'http://primary.test';
const SECONDARY = 'http://secondary.test';
const CHAT_PATH = '/v1/chat/completions';
const UPSTREAM_MS = 40;

const config = parseConfig(
  {
    providers: {
      primary: { baseUrl: `${PRIMARY}/v1`, apiKey: 'sk-primary-SECRET' },
      secondary: { baseUrl: `${SECONDARY}/v1`, apiKey: 'sk-secondary-SECRET' },
    },
    models: { [ALIAS]: { routes: [{ provider: 'primary', model: 'nano' }, { provider: 'secondary', model: 'nano' }] } },
    tiers: { tier1: { rpm: 100, tpm: 1_000_000 }, requestsOnly: { rpm: 100 } },
  },
  {},
);

const principal: ApiKeyRecord = {
  id: 'k1',
  name: 'alice',
  tier: 'tier1',
  createdAt: '2026-01-01T00:00:00Z',
  source: 'config',
  keyHash: 'sha256:x',
};

/** A Limiter that keeps every adjustment (settlement) it is sent, over a memory limiter on the fake clock. */
class RecordingLimiter implements Limiter {
  readonly adjustments: { subject: string; dimension: Dimension; delta: number }[] = [];
  constructor(private readonly inner: MemoryLimiter) {}
  admit(subject: string, rules: LimitRule[]) {
    return this.inner.admit(subject, rules);
  }

  async adjust(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]) {
    for (const { dimension, delta } of adjustments) this.adjustments.push({ subject, dimension, delta });
    await this.inner.adjust(subject, adjustments);
  }

  close() {
    return this.inner.close();
  }
}

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function harness() {
  let clock = 1_000;
  const agent = new MockAgent();
  agent.disableNetConnect();
  const limiter = new RecordingLimiter(new MemoryLimiter({ now: () => clock }));
  const admission = new AdmissionControl(limiter, config, { onDenied: () => {}, onSettleError: () => {} });
  const records: { model: string; usage: Usage }[] = [];
  const metrics = new GatewayMetrics();
  const services: ExchangeServices = {
    admission,
    usage: {
      checkBudget: async () => {},
      record: (_principal, model, usage) => {
        records.push({ model, usage });
        return 0;
      },
    },
    metrics,
    router: new ModelRouter(config),
    upstream: {
      pools: agent,
      providerKeys: SecretRedactor.fromConfig(config),
      answers: new AnswerBuffers(1 << 20, 1 << 24),
    },
    responses: new MemoryResponseStore({ retentionDays: 30 }),
    now: () => clock,
  };
  return {
    services,
    records,
    limiter,
    admission,
    metrics,
    upstream: (origin: string, path = CHAT_PATH) => agent.get(origin).intercept({ path, method: 'POST' }),
    /** The upstream "takes" UPSTREAM_MS on the fake clock before it answers. */
    answering: (status: number, data: string, contentType: string) => () => {
      clock += UPSTREAM_MS;
      return { statusCode: status, data, responseOptions: { headers: { 'content-type': contentType } } };
    },
    async activeStreams() {
      return (await metrics.activeStreams.get()).values[0]?.value ?? 0;
    },
  };
}

class FakeClient implements ClientConnection {
  readonly response = Object.assign(new EventEmitter(), { writableFinished: false });
  readonly headers = {};
  readonly requestId = 'req-1';
  readonly lines: LogLine[] = [];
  readonly log = {
    info: (fields: object, message: string) => this.lines.push({ level: 'info', message, fields: { ...fields } }),
    warn: (fields: object, message: string) => this.lines.push({ level: 'warn', message, fields: { ...fields } }),
    error: (fields: object, message: string) => this.lines.push({ level: 'error', message, fields: { ...fields } }),
  };

  sent: { status: number; headers: OutgoingHttpHeaders; body: Buffer | Readable } | undefined;
  selfLogged = false;

  setHeaders(): void {}
  send(status: number, headers: OutgoingHttpHeaders, body: Buffer | Readable): void {
    this.sent = { status, headers, body };
  }

  logsItself(): void {
    this.selfLogged = true;
  }

  logFields: object | undefined;
  addLogFields(fields: object): void {
    this.logFields = fields;
  }

  /** The client disconnects: Node closes its response (and Fastify destroys the stream it was sending). */
  leave(): void {
    this.response.emit('close');
    if (this.sent && !Buffer.isBuffer(this.sent.body)) this.sent.body.destroy();
  }

  completionLines(): LogLine[] {
    return this.lines.filter((line) => line.message === 'request completed');
  }
}

function requestOf(endpoint: Endpoint, body: object) {
  const json = Buffer.from(JSON.stringify(body));
  const members = topLevelMembers(json, 128)!.members;
  return { endpoint, body: checkBody(endpoint, body, members), json, members };
}

function exchange(h: ReturnType<typeof harness>, client: FakeClient, body: object, endpoint: Endpoint = 'chat') {
  return new Exchange(h.services, requestOf(endpoint, body), principal, client);
}

async function readAll(body: Buffer | Readable): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString();
  let text = '';
  for await (const chunk of body) text += chunk;
  return text;
}

/** Settlements are batched: closing admission sends what is queued. */
async function settlements(h: ReturnType<typeof harness>) {
  await h.admission.close();
  return h.limiter.adjustments;
}

const chatBody = { model: ALIAS, messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 };
const usage = { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 };
const completion = JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [], usage });

test(
  'a whole JSON answer: one usage record, one settlement to the real tokens, one line with the fake clock times',
  async (t) => {
    const h = harness();
    h.upstream(PRIMARY).reply(h.answering(200, completion, 'application/json'));
    const client = new FakeClient();
    await exchange(h, client, chatBody).run();

    t.equal(client.sent?.status, 200);
    t.equal(await readAll(client.sent!.body), completion);
    t.same(
      h.records.map((r) => [r.model, r.usage.totalTokens]),
      [[ALIAS, 12]],
    );
    const lines = client.completionLines();
    t.equal(lines.length, 1);
    t.match(lines[0]!.fields, {
      provider: 'primary',
      status: 200,
      attempts: 1,
      upstreamMs: UPSTREAM_MS,
      totalMs: UPSTREAM_MS,
      completed: true,
    });
    t.ok(client.selfLogged, 'the generic request line is skipped');
    const reserved = lines[0]!.fields.usage as Usage;
    t.equal(reserved.totalTokens, 12);
    const tpm = (await settlements(h)).filter((a) => a.subject === `key:k1:${ALIAS}` && a.dimension === 'tpm');
    t.equal(tpm.length, 1, 'the key is settled once');
    t.ok(tpm[0]!.delta < 0, 'the unused part of the reservation (prompt estimate + 50 output) goes back');
  },
);

test('a stream that ends and then closes: finish() runs once, and the stream gauge returns to zero', async (t) => {
  const h = harness();
  const events = [
    'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}',
    `data: {"choices":[],"usage":${JSON.stringify(usage)}}`,
    'data: [DONE]',
  ];
  h.upstream(PRIMARY).reply(h.answering(200, events.map((e) => `${e}\n\n`).join(''), 'text/event-stream'));
  const client = new FakeClient();
  await exchange(h, client, { ...chatBody, stream: true }).run();
  t.equal(await h.activeStreams(), 1, 'counted while it is relayed');

  const relayed = await readAll(client.sent!.body);
  await new Promise((resolve) => setImmediate(resolve)); // 'close' follows 'end'
  t.match(relayed, /hello/);
  t.notMatch(relayed, /"usage"/, 'the usage chunk the gateway asked for is not relayed to a client that did not ask');
  t.equal(h.records.length, 1);
  t.equal(h.records[0]!.usage.totalTokens, 12);
  t.equal(client.completionLines().length, 1);
  t.equal(await h.activeStreams(), 0);
  t.equal((await settlements(h)).filter((a) => a.subject.startsWith('key:') && a.dimension === 'tpm').length, 1);
});

test('a stream the client leaves: usage estimated from what it received, recorded once', async (t) => {
  const h = harness();
  h.upstream(PRIMARY).reply(
    h.answering(
      200,
      'data: {"choices":[{"index":0,"delta":{"content":"partial answer"}}]}\n\n',
      'text/event-stream',
    ),
  );
  const client = new FakeClient();
  await exchange(h, client, { ...chatBody, stream: true }).run();
  const tap = client.sent!.body as Readable;
  await new Promise((resolve) => tap.once('data', resolve));
  client.leave();
  await new Promise((resolve) => setImmediate(resolve));

  t.equal(h.records.length, 1, 'one record for the cut stream');
  t.ok(h.records[0]!.usage.estimated, 'no usage chunk arrived: estimated');
  t.ok(h.records[0]!.usage.completionTokens > 0, 'the text the client got is counted');
  const lines = client.completionLines();
  t.equal(lines.length, 1);
  t.equal(lines[0]!.fields.completed, false);
  t.equal(await h.activeStreams(), 0);
});

test(
  'every route fails: the error names both, nothing is recorded, each reservation is settled once at zero',
  async (t) => {
    const h = harness();
    h.upstream(PRIMARY).reply(
      h.answering(
        500,
        JSON.stringify({ error: { message: 'primary broke', type: 'server_error' } }),
        'application/json',
      ),
    );
    h.upstream(SECONDARY).reply(
      h.answering(
        503,
        JSON.stringify({ error: { message: 'secondary broke', type: 'server_error' } }),
        'application/json',
      ),
    );
    const client = new FakeClient();
    const error = (await exchange(h, client, chatBody)
      .run()
      .catch((err: unknown) => err)) as GatewayError;

    t.equal(error.status, 503);
    t.match(error.message, /All 2 routes failed: primary: 500 .*; secondary: 503/);
    t.equal(client.sent, undefined, 'the app error handler answers');
    t.equal(h.records.length, 0);
    t.equal(client.completionLines().length, 0);
    t.same(
      client.lines.map((line) => [line.level, line.fields.provider]),
      [
        ['warn', 'primary'],
        ['warn', 'secondary'],
      ],
    );
    t.notOk(client.selfLogged, 'the error handler writes the line');
    t.match(
      client.logFields,
      { model: ALIAS, endpoint: 'chat', attempts: 2, providers: ['primary', 'secondary'] },
      'and it names every provider tried, in order',
    );
    const keyTpm = (await settlements(h)).filter((a) => a.subject.startsWith('key:') && a.dimension === 'tpm');
    t.equal(keyTpm.length, 1);
  },
);

test(
  'the client leaves before any upstream answered: no fallback, one 499 line, reservations given back',
  async (t) => {
    const h = harness();
    const client = new FakeClient();
    let asked = 0;
    const answer = async () => {
      asked++;
      client.leave(); // while the first upstream is still working
      await new Promise((resolve) => setImmediate(resolve));
      return {
        statusCode: 200,
        data: completion,
        responseOptions: { headers: { 'content-type': 'application/json' } },
      };
    };
    h.upstream(PRIMARY).reply(answer);
    h.upstream(SECONDARY).reply(answer);
    await exchange(h, client, chatBody).run();

    t.equal(asked, 1, 'the second route is not tried for a client that is gone');
    t.equal(client.sent, undefined);
    t.equal(h.records.length, 0);
    t.same(
      client.lines.map((line) => [line.message, line.fields.status]),
      [['client closed the request before the upstream answered', 499]],
    );
    t.ok(client.selfLogged);
    t.equal((await settlements(h)).filter((a) => a.subject.startsWith('key:') && a.dimension === 'tpm').length, 1);
  },
);

const RESPONSES_PATH = '/v1/responses';
const nativeResponse = JSON.stringify({
  id: 'resp_1',
  object: 'response',
  created_at: 1_700_000_000,
  status: 'completed',
  output: [{ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi.' }] }],
  usage: { input_tokens: 9, output_tokens: 3, total_tokens: 12 },
});

/** The record is written asynchronously; the answer follows it. */
const recordWritten = () => new Promise((resolve) => setImmediate(resolve));

/** A store that notes what the client had been sent when each record was put, and may refuse. */
function watchingStore(client: FakeClient, refuse: boolean): ResponseStore & { puts: { sent: boolean }[] } {
  const inner = new MemoryResponseStore({ retentionDays: 30 });
  const puts: { sent: boolean }[] = [];
  return {
    puts,
    put: async (record: StoredResponse) => {
      puts.push({ sent: client.sent !== undefined });
      if (refuse) throw new Error('the store is away');
      await inner.put(record);
    },
    get: (id) => inner.get(id),
    delete: (id) => inner.delete(id),
    close: () => inner.close(),
  };
}

test('a Responses answer leaves one record, written before the answer is sent', async (t) => {
  const h = harness();
  const client = new FakeClient();
  const store = watchingStore(client, false);
  h.services.responses = store;
  h.upstream(PRIMARY, RESPONSES_PATH).reply(h.answering(200, nativeResponse, 'application/json'));
  await exchange(h, client, { model: ALIAS, input: 'Hi' }, 'responses').run();
  await recordWritten();

  t.same(store.puts, [{ sent: false }], 'one record, before the answer');
  t.equal(await readAll(client.sent!.body), nativeResponse, 'the answer as the provider sent it');
  t.match(await store.get('resp_1'), {
    keyId: principal.id,
    model: ALIAS,
    holder: { kind: 'native', provider: 'primary' },
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }],
    output: [{ id: 'msg_1', type: 'message' }],
  });
  t.equal(h.records.length, 1, 'usage recorded once');
});

test('a store that fails is logged, and the client still gets its answer; store: false writes nothing', async (t) => {
  const h = harness();
  const client = new FakeClient();
  const store = watchingStore(client, true);
  h.services.responses = store;
  h.upstream(PRIMARY, RESPONSES_PATH).reply(h.answering(200, nativeResponse, 'application/json'));
  await exchange(h, client, { model: ALIAS, input: 'Hi' }, 'responses').run();
  await recordWritten();

  t.equal(client.sent?.status, 200);
  t.equal(await readAll(client.sent!.body), nativeResponse);
  t.match(
    client.lines.filter((line) => line.level === 'error'),
    [{ message: 'the stored-response record could not be written', fields: { responseId: 'resp_1' } }],
  );
  t.equal(client.completionLines().length, 1);

  const unstored = new FakeClient();
  const untouched = watchingStore(unstored, false);
  h.services.responses = untouched;
  h.upstream(PRIMARY, RESPONSES_PATH).reply(h.answering(200, nativeResponse, 'application/json'));
  await exchange(h, unstored, { model: ALIAS, input: 'Hi', store: false }, 'responses').run();
  t.equal(unstored.sent?.status, 200);
  t.same(untouched.puts, [], 'store: false: no record');
});

/** V8's collector, so a test can show an object is no longer reachable (WeakRef). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Whether `ref`'s object is gone after two collections, a turn apart (a WeakRef holds until the turn ends). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  const gc = collector();
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

const LONG_PROMPT = 'a long conversation turn '.repeat(2_000);

/**
 * Starts a chat stream with a long prompt that the upstream keeps open, and answers a WeakRef to the
 * prompt: nothing but the gateway holds the request once this returns.
 */
async function openStreamWithLongPrompt(h: ReturnType<typeof harness>, client: FakeClient) {
  h.upstream(PRIMARY).reply(
    h.answering(200, 'data: {"choices":[{"index":0,"delta":{"content":"still going"}}]}\n\n', 'text/event-stream'),
  );
  const body = { model: ALIAS, messages: [{ role: 'user', content: LONG_PROMPT }], stream: true };
  await exchange(h, client, body).run();
  return new WeakRef(body.messages);
}

test('an open stream holds no prompt: it is let go of once it is upstream', async (t) => {
  const h = harness();
  const client = new FakeClient();
  const prompt = await openStreamWithLongPrompt(h, client);
  t.equal(await h.activeStreams(), 1, 'the stream is still open');
  t.ok(await collected(prompt), 'its messages are no longer reachable');
  client.leave();
});

test('a key without token limits: a cut stream is still billed on its prompt count', async (t) => {
  const h = harness();
  const client = new FakeClient();
  // Under 512 chars a prompt is always counted exactly, whatever the clock: the two counts must agree.
  const body = { model: ALIAS, messages: [{ role: 'user', content: 'a short turn '.repeat(30) }], stream: true };
  const estimate = h.admission.estimate(requestOf('chat', structuredClone(body)).body, 'chat');
  h.upstream(PRIMARY).reply(
    h.answering(200, 'data: {"choices":[{"index":0,"delta":{"content":"cut"}}]}\n\n', 'text/event-stream'),
  );
  await new Exchange(h.services, requestOf('chat', body), { ...principal, tier: 'requestsOnly' }, client).run();
  client.leave();
  await new Promise((resolve) => setImmediate(resolve));

  t.equal(h.records.length, 1);
  t.equal(h.records[0]!.usage.promptTokens, estimate.promptTokens, 'the prompt was counted before it was let go of');
});
