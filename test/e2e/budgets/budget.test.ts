// Monthly budgets: once a key's spend this UTC month reaches its budgetUsd, requests get
// 429 insufficient_quota with x-should-retry: false, so the SDK raises RateLimitError without retrying.
// The budget check reads the store at most once per second per instance, so a spend made on another
// instance is seen within about a second.
import t, { type Test } from 'tap';
import OpenAI, { RateLimitError } from 'openai';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import {
  ADMIN_TOKEN,
  adminApi,
  expectedCostUsd,
  flushUsage,
  http,
  poll,
  sumRows,
  upstreamAndRedis,
} from '../../helpers/admin-http.js';
import { pastTtl } from '../../helpers/cache-ttl.js';
import { ALIAS, randomKey, startGateway, type Gateway, type RawConfig } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, wordChunks } from '../../helpers/mock-upstream.js';

/** One request costs 12 × $0.10 + 5 × $0.40 per 1M = $0.0000032: more than the whole budget. */
const TINY_BUDGET = 0.000001;
const ONE_REQUEST_USD = expectedCostUsd({
  promptTokens: DEFAULT_PROMPT_TOKENS,
  cachedTokens: 0,
  completionTokens: wordChunks(DEFAULT_TEXT).length,
  reasoningTokens: 0,
});

const { mock, redis, prefix: PREFIX } = await upstreamAndRedis(t, 'budget');
t.beforeEach(() => mock.reset());

async function gateway(t: Test, configure: (raw: RawConfig) => void = () => {}, useRedis = true): Promise<Gateway> {
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      if (useRedis) raw.redis = { url: redis.url, keyPrefix: PREFIX };
      configure(raw);
    },
  });
  t.teardown(() => gw.close());
  return gw;
}

const messages = [{ role: 'user' as const, content: 'hi' }];

/** An SDK client that would retry up to 3 times, counting the HTTP requests it makes. */
function countingClient(gw: Gateway, apiKey: string) {
  const counter = { calls: 0 };
  const client = new OpenAI({
    apiKey,
    baseURL: `${gw.url}/v1`,
    maxRetries: 3,
    fetch: (input, init) => {
      counter.calls++;
      return fetch(input, init);
    },
  });
  return { client, counter };
}

/** The budget refusal, as the SDK raises it. */
async function checkRefusal(t: Test, gw: Gateway, apiKey: string, label: string): Promise<void> {
  const upstreamBefore = mock.requests.length;
  const { client, counter } = countingClient(gw, apiKey);
  const err = await client.chat.completions.create({ model: ALIAS, messages }).then(() => undefined, (e: unknown) => e);
  t.type(err, RateLimitError, `${label}: the SDK raises RateLimitError`);
  if (!(err instanceof RateLimitError)) return;
  t.equal(err.status, 429, `${label}: 429`);
  t.equal(err.type, 'insufficient_quota', `${label}: type insufficient_quota`);
  t.equal(err.code, 'insufficient_quota', `${label}: code insufficient_quota`);
  t.equal(err.headers.get('x-should-retry'), 'false', `${label}: x-should-retry: false`);
  t.match(err.message, /quota/, `${label}: the message says the quota is spent`);
  t.equal(counter.calls, 1, `${label}: the SDK did not retry (maxRetries was 3)`);
  t.equal(mock.requests.length, upstreamBefore, `${label}: nothing reached the upstream`);
}

/** Requests until the first budget refusal; returns how many passed. The first one always passes. */
async function spendUntilRefused(t: Test, gw: Gateway, apiKey: string): Promise<number> {
  const client = gw.client(apiKey);
  let passed = 0;
  await poll(async () => {
    const res = await client.chat.completions.create({ model: ALIAS, messages }).then(
      () => 'ok' as const,
      (e: unknown) => e,
    );
    if (res === 'ok') {
      passed++;
      return undefined;
    }
    if (res instanceof RateLimitError) return true;
    throw res;
  }, 3_000);
  t.ok(passed >= 1, `the first request passed (${passed} before the refusal)`);
  return passed;
}

t.test('redis: a key past its tiny budget gets 429 insufficient_quota, and the SDK does not retry', async (t) => {
  const gw = await gateway(t);
  const admin = adminApi(gw.url);
  const { id, key } = await admin.createKey({ name: 'frugal', tier: 'tier-5', budgetUsd: TINY_BUDGET });
  const passed = await spendUntilRefused(t, gw, key);
  t.equal(passed, 1, 'this instance counts its own spend at once: the second request is refused');
  await checkRefusal(t, gw, key, 'chat');

  const stream = await http(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: { model: ALIAS, messages, stream: true },
  });
  t.equal(stream.status, 429, 'a stream is refused before it starts');
  t.same(
    stream.body,
    {
      error: {
        message: stream.body?.error?.message,
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    },
    'in the OpenAI error shape',
  );

  await flushUsage(gw);
  const totals = sumRows(await admin.usage({ keyId: id }));
  t.equal(totals.requests, passed, 'refused requests are not usage');
  t.ok(Math.abs(totals.costUsd - passed * ONE_REQUEST_USD) < 1e-9, 'the spend is what the passed requests cost');
  const other = await gw.client().chat.completions.create({ model: ALIAS, messages });
  t.equal(other.choices[0]?.message.content, DEFAULT_TEXT, 'another key without a budget is unaffected');
});

t.test('redis: raising or clearing a spent budget over the admin API lets the key through again', async (t) => {
  const gw = await gateway(t);
  const admin = adminApi(gw.url);
  const { id, key } = await admin.createKey({ name: 'topped-up', tier: 'tier-5', budgetUsd: TINY_BUDGET });
  await spendUntilRefused(t, gw, key);
  const client = gw.client(key);
  const me = () => client.get<{ budget: { monthlyUsd: number; spentUsd: number; remainingUsd: number } | null }>('/me');
  t.equal((await me()).budget?.remainingUsd, 0, '/v1/me: nothing left');

  t.match((await admin.call('PATCH', `/keys/${id}`, { budgetUsd: 1 })).body, { budgetUsd: 1 }, 'budget raised to $1');
  t.equal(
    (await client.chat.completions.create({ model: ALIAS, messages })).choices[0]?.message.content,
    DEFAULT_TEXT,
    'the key passes again at once',
  );
  const raised = (await me()).budget!;
  t.equal(raised.monthlyUsd, 1, '/v1/me: the new budget');
  t.ok(
    Math.abs(raised.spentUsd - 2 * ONE_REQUEST_USD) < 1e-12 &&
      Math.abs(raised.remainingUsd - (1 - 2 * ONE_REQUEST_USD)) < 1e-12,
    '/v1/me: both requests spent, the rest left',
  );

  t.match((await admin.call('PATCH', `/keys/${id}`, { budgetUsd: 0 })).body, { budgetUsd: 0 }, 'budget set to $0');
  t.type(
    await client.chat.completions.create({ model: ALIAS, messages }).then(
      () => undefined,
      (e: unknown) => e,
    ),
    RateLimitError,
    'a $0 budget refuses everything',
  );
  t.notOk('budgetUsd' in (await admin.call('PATCH', `/keys/${id}`, { budgetUsd: null })).body!, 'budget cleared');
  t.equal(
    (await client.chat.completions.create({ model: ALIAS, messages })).choices[0]?.message.content,
    DEFAULT_TEXT,
    'without a budget the key passes',
  );
  t.equal((await me()).budget, null, '/v1/me: no budget');
});

t.test(
  'redis, two instances: a spend made on one instance closes the budget on the other within a second',
  async (t) => {
    const a = await gateway(t);
    const b = await gateway(t);
    const { key } = await adminApi(a.url).createKey({
      name: 'shared-budget',
      tier: 'tier-5',
      budgetUsd: TINY_BUDGET,
    });
    const me = (gw: Gateway) => http(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    t.match(
      (await me(b)).body,
      { budget: { monthlyUsd: TINY_BUDGET, spentUsd: 0 } },
      'instance B has read (and cached) a spend of 0',
    );

    await a.client(key).chat.completions.create({ model: ALIAS, messages });
    await flushUsage(a);
    // B read the spend before this; what it read is trusted for a second at most (cache ≤ 1 s).
    await pastTtl(Date.now(), 1_000);
    const spentSeenBy = async (gw: Gateway) => {
      const budget = (await me(gw)).body?.budget as { spentUsd?: number } | undefined;
      return Number(budget?.spentUsd); // NaN when /v1/me names no spend
    };
    t.ok((await spentSeenBy(b)) > 0, "B saw A's spend a second after it was written (cache ≤ 1 s)");
    t.ok(Math.abs((await spentSeenBy(b)) - ONE_REQUEST_USD) < 1e-12, "B reports A's spend exactly");
    await checkRefusal(t, b, key, 'instance B');
  },
);

t.test('memory stores: a static key with a tiny budget is refused after its first request', async (t) => {
  const budgetKey = randomKey('budget');
  const gw = await gateway(
    t,
    (raw) => raw.keys.push({ name: 'budgeted', key: budgetKey, tier: 'tier-5', budgetUsd: TINY_BUDGET }),
    false,
  );
  const passed = await spendUntilRefused(t, gw, budgetKey);
  t.equal(passed, 1, 'one request passed');
  await checkRefusal(t, gw, budgetKey, 'memory');
  const [totals] = await adminApi(gw.url).usage({ keyId: staticKeyId(hashKey(budgetKey)) });
  t.equal(totals?.requests, 1, 'one request recorded');
});
