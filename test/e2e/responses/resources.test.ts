// The Responses sub-resources through a real gateway with the official SDK: retrieve, delete,
// inputItems.list, cancel and inputTokens.count. Records are put into the gateway's store directly (the
// exchange writing them is tested with it); a native record's calls go to a small provider of this file's
// own over real HTTP (the shared mock upstream serves only POST), a bridged one is answered from the record.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotFoundError } from 'openai';
import t, { type Test } from 'tap';
import { hashKey } from '../../../src/keys/api-key.js';
import { estimatePromptTokens } from '../../../src/openai/prompt-tokens.js';
import type { ResponseItem, StoredResponse } from '../../../src/responses/stored-response.js';
import { ALIAS, PRIMARY_API_KEY, randomKey, startGateway, type Gateway } from '../../helpers/gateway.js';
import { redisSection, type RedisTarget } from '../../helpers/rate-limit-harness.js';
import { startRedis } from '../../helpers/redis.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A provider that holds responses natively: answers the four sub-resource calls as OpenAI does. */
async function startProvider(t: Test) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, seen };
}

const response = (id: string, status = 'completed') =>
  ({ id, object: 'response', status, model: 'gpt-4.1-nano', output: [] });
const openaiError = (message: string) =>
  ({ error: { message, type: 'invalid_request_error', param: null, code: null } });

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url!, 'http://provider');
  const [, , , id, sub] = url.pathname.split('/'); // /v1/responses/<id>[/<sub>]
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_provider' });
    res.end(JSON.stringify(body));
  };
  if (id === 'resp_refused') return send(401, openaiError(`Incorrect API key provided: ${PRIMARY_API_KEY}.`));
  if (id === 'resp_provider_forgot') {
    // OpenAI's own 404, naming the provider's key as a careless upstream might.
    return send(404, openaiError(`Response with id '${id}' not found (key ${PRIMARY_API_KEY}).`));
  }
  if (req.method === 'GET' && !sub && url.searchParams.get('stream') === 'true') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const events = [
      { type: 'response.in_progress', sequence_number: 3, response: response(id!, 'in_progress') },
      { type: 'response.completed', sequence_number: 4, response: response(id!) },
    ];
    for (const event of events) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    return void res.end();
  }
  if (req.method === 'GET' && !sub) return send(200, response(id!));
  if (req.method === 'DELETE' && !sub) return send(200, { id, object: 'response', deleted: true });
  if (req.method === 'GET' && sub === 'input_items') {
    const data = [{ id: 'msg_native', type: 'message', role: 'user', content: [] }];
    return send(200, { object: 'list', data, first_id: 'msg_native', last_id: 'msg_native', has_more: false });
  }
  if (req.method === 'POST' && sub === 'cancel') return send(200, response(id!, 'cancelled'));
  send(404, openaiError('Invalid URL'));
}

const input: ResponseItem[] = Array.from({ length: 5 }, (_, i) => ({
  id: `msg_${i}`,
  type: 'message',
  role: 'user',
  content: [{ type: 'input_text', text: `turn ${i}` }],
}));

let ids = 0;
function record(keyId: string, holder: StoredResponse['holder'] | 'bridged'): StoredResponse {
  const id = `resp_${process.pid}_${++ids}`;
  return {
    id,
    keyId,
    model: ALIAS,
    createdAt: Math.floor(Date.now() / 1000),
    holder: holder === 'bridged' ? { kind: 'bridged', response: response(id) } : holder,
    input,
    output: [],
  };
}

const NATIVE = { kind: 'native', provider: 'primary' } as const;
const TWO_RPM = randomKey('two-rpm');
const OTHER = randomKey('other');

interface Setup {
  gw: Gateway;
  provider: Awaited<ReturnType<typeof startProvider>>;
  /** A record of the test key (or of `keyId`), put into the gateway's store. */
  put(holder: StoredResponse['holder'] | 'bridged', keyId?: string): Promise<StoredResponse>;
}

async function setup(t: Test, redis?: RedisTarget): Promise<Setup> {
  const provider = await startProvider(t);
  const gw = await startGateway({
    primary: provider.baseUrl,
    configure: (raw) => {
      if (redis) raw.redis = redisSection(redis);
      raw.providers.dead = { baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'sk-dead-provider-key' };
      raw.tiers['two-rpm'] = { rpm: 2, tpm: 1 }; // a token limit no call could pass if tokens were charged
      raw.keys.push({ name: 'two-rpm', key: TWO_RPM, tier: 'two-rpm' });
      raw.keys.push({ name: 'other', key: OTHER, tier: 'tier-5' });
    },
  });
  t.teardown(() => gw.close());
  const keyId = (await gw.app.keys.findByHash(hashKey(gw.key)))!.id;
  const put = async (holder: StoredResponse['holder'] | 'bridged', owner = keyId) => {
    const stored = record(owner, holder);
    await gw.app.responses.put(stored);
    return stored;
  };
  return { gw, provider, put };
}

const notFound = (id: string) => openaiError(`Response with id '${id}' not found.`);

async function raw(gw: Gateway, method: string, path: string, key = gw.key, body?: unknown) {
  const res = await fetch(`${gw.url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
}

t.test('memory gateway', async (t) => {
  const { gw, provider, put } = await setup(t);
  const client = gw.client();
  t.beforeEach(() => void (provider.seen.length = 0));

  t.test('a native record: retrieve goes to its provider with the query and its key, not the client\'s', async (t) => {
    const stored = await put(NATIVE);
    const got = await client.responses.retrieve(stored.id, { include: ['message.output_text.logprobs'] });
    t.match(got, response(stored.id), "the provider's answer, relayed");
    const [call] = provider.seen;
    t.equal(call?.method, 'GET', 'GET');
    t.equal(
      call?.url,
      `/v1/responses/${stored.id}?include%5B%5D=message.output_text.logprobs`,
      "the provider's path, with the client's query as it came",
    );
    t.equal(call?.headers.authorization, `Bearer ${PRIMARY_API_KEY}`, "the provider's credential");
    t.equal(call?.headers['x-provider-tag'], 'tollgate-primary', "and the provider's configured headers");
    t.notOk(JSON.stringify(call?.headers).includes(gw.key), 'the client key never reaches the provider');
    const { headers } = await client.responses.retrieve(stored.id).withResponse().then((r) => r.response);
    t.equal(headers.get('x-request-id'), 'req_provider', "the provider's request id reaches the client");
    t.ok(headers.get('x-ratelimit-limit-requests'), "the key's x-ratelimit-* headers are on the answer");
  });

  t.test('a native record: stream=true resumes the provider\'s stream, relayed as SSE', async (t) => {
    const stored = await put(NATIVE);
    const stream = await client.responses.retrieve(stored.id, { stream: true, starting_after: 2 });
    const events = [];
    for await (const event of stream) events.push(event);
    t.same(events.map((e) => e.sequence_number), [3, 4], 'the events after starting_after');
    t.match(provider.seen[0]?.url, /stream=true/, 'stream=true forwarded');
    t.match(provider.seen[0]?.url, /starting_after=2/, 'starting_after forwarded');
  });

  t.test('a native record: delete, input items and cancel are forwarded', async (t) => {
    const stored = await put(NATIVE);
    const items = await client.responses.inputItems.list(stored.id, { limit: 5, order: 'asc' });
    t.same(items.data.map((i) => i.id), ['msg_native'], "the provider's items");
    t.equal(provider.seen[0]?.url, `/v1/responses/${stored.id}/input_items?limit=5&order=asc`, 'with the query');
    const cancelled = await client.responses.cancel(stored.id);
    t.equal(cancelled.status, 'cancelled', "the provider's cancel answer");
    const cancelCall = { method: 'POST', url: `/v1/responses/${stored.id}/cancel`, body: '{}' };
    t.match(provider.seen[1], cancelCall, 'POST {} to cancel');
    const deleted = await client.responses.delete(stored.id).asResponse();
    t.same(await deleted.json(), { id: stored.id, object: 'response', deleted: true }, "the provider's delete answer");
    t.match(provider.seen[2], { method: 'DELETE', url: `/v1/responses/${stored.id}` }, 'DELETE forwarded');
    t.equal(await gw.app.responses.get(stored.id), undefined, 'the record is gone with the response');
  });

  t.test("a native id its provider forgot: the provider's 404, redacted; a delete forgets the record", async (t) => {
    const stored = await put(NATIVE);
    await gw.app.responses.put({ ...stored, id: 'resp_provider_forgot' });
    const got = await raw(gw, 'GET', '/responses/resp_provider_forgot');
    t.equal(got.status, 404, 'relayed 404');
    t.notOk(JSON.stringify(got.body).includes(PRIMARY_API_KEY), 'the provider key is redacted from the message');
    t.ok(await gw.app.responses.get('resp_provider_forgot'), 'a retrieve keeps the record');
    t.equal((await raw(gw, 'DELETE', '/responses/resp_provider_forgot')).status, 404, 'a delete: the same 404');
    t.equal(await gw.app.responses.get('resp_provider_forgot'), undefined, 'after which the record is forgotten');
  });

  t.test('a native record whose provider is gone, unreachable or refuses its key: 502', async (t) => {
    const gone = await put({ kind: 'native', provider: 'retired' });
    const unconfigured = await raw(gw, 'GET', `/responses/${gone.id}`);
    const error = (message: RegExp) => ({ error: { type: 'server_error', code: 'upstream_unavailable', message } });
    t.match([unconfigured.status, unconfigured.body], [502, error(/"retired", which is no longer configured/)], 'gone');
    const dead = await put({ kind: 'native', provider: 'dead' });
    const unreachable = await raw(gw, 'GET', `/responses/${dead.id}`);
    t.match([unreachable.status, unreachable.body], [502, error(/"dead" could not be reached/)], 'unreachable');
    const stored = await put(NATIVE);
    await gw.app.responses.put({ ...stored, id: 'resp_refused' });
    const refused = await raw(gw, 'GET', '/responses/resp_refused');
    t.match([refused.status, refused.body], [502, error(/refused the gateway's credential/)], 'credential refused');
    t.notOk(JSON.stringify(refused.body).includes('Incorrect API key'), "the provider's 401 is not relayed");
  });

  t.test('a bridged record is served from the record', async (t) => {
    const stored = await put('bridged');
    const bridgedResponse = (stored.holder as { response: object }).response;
    t.match(await client.responses.retrieve(stored.id), bridgedResponse, 'the SDK reads the stored response object');
    t.same((await raw(gw, 'GET', `/responses/${stored.id}`)).body, bridgedResponse, 'sent exactly as it was stored');
    t.equal(provider.seen.length, 0, 'no provider was asked');
    const resumed = await raw(gw, 'GET', `/responses/${stored.id}?stream=true`);
    t.equal(resumed.status, 400, 'stream=true: 400');
    t.match(resumed.body, { error: { type: 'invalid_request_error', param: 'stream' } }, 'naming stream');
    const cancel = await raw(gw, 'POST', `/responses/${stored.id}/cancel`);
    t.same(
      [cancel.status, cancel.body],
      [400, openaiError('Only responses created with background=true can be cancelled.')],
      "cancel: OpenAI's 400 for a response not created with background",
    );
    const deleted = await client.responses.delete(stored.id).asResponse();
    t.same(await deleted.json(), { id: stored.id, object: 'response', deleted: true }, 'delete answers deleted: true');
    t.same((await raw(gw, 'GET', `/responses/${stored.id}`)).body, notFound(stored.id), 'and it is gone');
  });

  t.test('a bridged record: input items from the record, with limit, order, after and auto-pagination', async (t) => {
    const stored = await put('bridged');
    const first = await client.responses.inputItems.list(stored.id, { limit: 2 });
    t.same(first.data.map((i) => i.id), ['msg_4', 'msg_3'], 'newest first by default, two of them');
    t.equal(first.has_more, true, 'has_more');
    const after = await client.responses.inputItems.list(stored.id, { order: 'asc', after: 'msg_1' });
    t.same(after.data.map((i) => i.id), ['msg_2', 'msg_3', 'msg_4'], 'asc, after msg_1');
    const all = [];
    const pages = client.responses.inputItems.list(stored.id, { limit: 2, order: 'asc' });
    for await (const item of pages) all.push(item.id);
    t.same(all, input.map((i) => i.id), 'auto-pagination walks every item once, in order');
    const bad = await raw(gw, 'GET', `/responses/${stored.id}/input_items?limit=0`);
    t.match([bad.status, bad.body], [400, { error: { param: 'limit' } }], 'limit=0: 400 naming limit');
  });

  t.test('a record of another key, and an unknown id, get the same 404', async (t) => {
    const mine = await put('bridged');
    const native = await put(NATIVE);
    for (const path of [`/responses/${mine.id}`, `/responses/${mine.id}/input_items`]) {
      const foreign = await raw(gw, 'GET', path, OTHER);
      t.same([foreign.status, foreign.body], [404, notFound(mine.id)], `another key on ${path}: OpenAI's 404`);
    }
    const nativeCalls = [['DELETE', `/responses/${native.id}`], ['POST', `/responses/${native.id}/cancel`]] as const;
    for (const [method, path] of nativeCalls) {
      const foreign = await raw(gw, method, path, OTHER);
      t.same([foreign.status, foreign.body], [404, notFound(native.id)], `another key on ${method} ${path}`);
    }
    t.equal(provider.seen.length, 0, 'nothing of a foreign record reaches the provider');
    t.ok(await gw.app.responses.get(mine.id), 'the owner\'s record stays');
    const err = await client.responses.retrieve('resp_unknown').catch((e: unknown) => e);
    t.type(err, NotFoundError, 'an unknown id: the SDK raises NotFoundError');
    t.same((await raw(gw, 'GET', '/responses/resp_unknown')).body, notFound('resp_unknown'), 'with the same body');
  });

  t.test('input_tokens is counted locally', async (t) => {
    const body = { model: ALIAS, input: 'How many tokens is this?', instructions: 'Count.' };
    const counted = await client.responses.inputTokens.count(body);
    const expected = { object: 'response.input_tokens', input_tokens: estimatePromptTokens(body, 'responses') };
    t.same(counted, expected, 'the admission estimate');
    t.equal(provider.seen.length, 0, 'no provider was asked');
    const unknown = await raw(gw, 'POST', '/responses/input_tokens', gw.key, { model: 'gpt-nope', input: 'x' });
    t.match([unknown.status, unknown.body], [404, { error: { code: 'model_not_found' } }], 'an unknown alias: 404');
    const noInput = await raw(gw, 'POST', '/responses/input_tokens', gw.key, { model: ALIAS });
    t.match([noInput.status, noInput.body], [400, { error: { param: 'input' } }], 'checked as a Responses body');
  });

  t.test('each call is one request and no tokens on the record\'s model: at RPM 2 the third gets 429', async (t) => {
    const twoRpmId = (await gw.app.keys.findByHash(hashKey(TWO_RPM)))!.id;
    const stored = await put('bridged', twoRpmId);
    const limited = gw.client(TWO_RPM);
    const first = await limited.responses.retrieve(stored.id).withResponse();
    t.equal(first.response.headers.get('x-ratelimit-limit-requests'), '2', "the key's requests trio");
    t.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '1', 'one request used');
    t.equal(first.response.headers.get('x-ratelimit-limit-tokens'), null, 'no tokens trio: tokens were not checked');
    await limited.responses.inputItems.list(stored.id);
    const third = await raw(gw, 'GET', `/responses/${stored.id}`, TWO_RPM);
    t.equal(third.status, 429, 'the third: 429');
    const message = new RegExp(
      `^Rate limit reached for ${ALIAS} on requests per min \\(RPM\\): Limit 2, Used 2, Requested 1\\.`,
    );
    t.match(third.body, { error: { type: 'requests', code: 'rate_limit_exceeded', message } }, "in OpenAI's words");
    t.ok(third.headers.get('retry-after'), 'with its retry advice');
    t.equal(third.headers.get('x-ratelimit-remaining-requests'), '0', 'and the key\'s headers');
  });
});

/** The gateway's Redis for one test: one server, or a three-primary cluster; stopped after the test. */
async function startBackend(t: Test, cluster: boolean): Promise<RedisTarget> {
  if (!cluster) {
    const server = await startRedis();
    t.teardown(() => server.stop());
    return server.url;
  }
  const started = await startRedisCluster();
  t.teardown(() => started.stop());
  return started.nodes;
}

for (const [name, cluster] of [['Redis', false], ['Redis Cluster', true]] as const) {
  t.test(`${name} gateway: records shared through Redis, with their retention`, async (t) => {
    const { gw, provider, put } = await setup(t, await startBackend(t, cluster));
    const client = gw.client();
    const bridged = await put('bridged');
    const native = await put(NATIVE);
    const bridgedResponse = (bridged.holder as { response: object }).response;
    t.match(await client.responses.retrieve(bridged.id), bridgedResponse, 'bridged: from Redis');
    t.match(await client.responses.retrieve(native.id), response(native.id), 'native: forwarded');
    t.equal(provider.seen.length, 1, 'one provider call, for the native record');
    const items = [];
    for await (const item of client.responses.inputItems.list(bridged.id, { limit: 3 })) items.push(item.id);
    t.same(items, input.map((i) => i.id).reverse(), 'input items, every page');
    await client.responses.delete(bridged.id);
    t.equal(await gw.app.responses.get(bridged.id), undefined, 'deleted in Redis');
    const ioredis = gw.app.redis!.commands;
    const key = `${gw.config.redis.keyPrefix}response:${native.id}`;
    const ttl = await ioredis.ttl(key);
    t.ok(ttl > 30 * 86_400 - 5 && ttl <= 30 * 86_400, `kept for responses.retentionDays (30 by default): TTL ${ttl} s`);
  });
}
