// Budgets and usage reads while Redis cannot answer. Budget checks and usage queries used to read
// through the usage store's write connection, which queues while Redis is away: a budgeted request,
// GET /v1/me and GET /admin/usage waited for Redis to come back (forever, if it did not). Now reads use
// the fail-fast connection: fail-open checks a budget against the last spend this instance read,
// fail-closed answers 503 at once, and the usage reads answer 503.
//
// "Does not hang" without a clock: Redis is paused (SIGSTOP) for the whole request, so a request that
// waited for it could not finish; each one is asserted finished while Redis is still paused.
import { setTimeout } from 'node:timers/promises';
import OpenAI, { APIError, RateLimitError } from 'openai';
import t, { type Test } from 'tap';
import { ADMIN_TOKEN, adminApi, expectedCostUsd, flushUsage, http, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, randomKey, startGateway, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

/** One request costs $0.0000032: more than this whole budget, so a key that spent once is refused. */
const TINY_BUDGET = 0.000001;
const ONE_REQUEST_USD = expectedCostUsd({
  promptTokens: DEFAULT_PROMPT_TOKENS,
  cachedTokens: 0,
  completionTokens: wordChunks(DEFAULT_TEXT).length,
  reasoningTokens: 0,
});
/** How long budget checks trust a spend they read, and the key store a record. */
const CACHE_TTL_MS = 1_000;
const messages = [{ role: 'user' as const, content: 'hi' }];

const mock = await startMockUpstream();
t.teardown(() => mock.close());

interface Setup {
  redis: RedisServer;
  gw: Gateway;
  /** A config key with a $1 budget: its lookup never touches Redis, its budget check does. */
  budgetedKey: string;
}

/** A gateway with the admin API on its own killable redis-server. */
async function setup(t: Test, failMode: 'open' | 'closed'): Promise<Setup> {
  const redis = await startRedis({ spawn: true });
  const budgetedKey = randomKey('budgeted');
  const gw = await startGateway({
    primary: mock,
    captureLogs: true,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      raw.redis = { url: redis.url, keyPrefix: uniquePrefix('budget-outage'), failMode };
      raw.keys.push({ name: 'budgeted', key: budgetedKey, tier: 'tier-5', budgetUsd: 1 });
    },
  });
  t.teardown(async () => {
    redis.resume(); // a paused Redis would hold the gateway's close for its timeouts
    await gw.close();
    await redis.stop();
  });
  return { redis, gw, budgetedKey };
}

const chat = (gw: Gateway, key: string) => gw.client(key).chat.completions.create({ model: ALIAS, messages });
const failure = (work: Promise<unknown>) => work.then(() => undefined, (err: unknown) => err);

async function budgetFallbacks(gw: Gateway): Promise<number> {
  const { values } = await gw.app.metrics.redisErrors.get();
  return values.find((v) => v.labels.component === 'budget')?.value ?? 0;
}

t.test('fail-open: a budgeted key is answered while Redis is paused, from the last known spend', async (t) => {
  const { redis, gw, budgetedKey } = await setup(t, 'open');
  const admin = adminApi(gw.url);
  const spent = await admin.createKey({ name: 'spent', tier: 'tier-5', budgetUsd: TINY_BUDGET });
  t.equal((await chat(gw, budgetedKey)).choices[0]?.message.content, DEFAULT_TEXT, 'the $1 key passes on Redis');
  t.equal((await chat(gw, spent.key)).choices[0]?.message.content, DEFAULT_TEXT, 'the tiny-budget key passes once');
  await flushUsage(gw);
  // Spends and key records read within the last second are trusted without Redis; past it, every
  // check below must ask Redis, and fall back.
  await setTimeout(CACHE_TTL_MS + 100);

  redis.pause();
  t.teardown(() => redis.resume());
  const started = performance.now();
  const answer = await chat(gw, budgetedKey);
  t.comment(`a budgeted request with Redis paused took ${Math.round(performance.now() - started)} ms`);
  t.equal(answer.choices[0]?.message.content, DEFAULT_TEXT, 'the $1 key is answered while Redis is still paused');
  t.type(
    await failure(chat(gw, spent.key)),
    RateLimitError,
    'the spent key is still refused: its last known spend is over its budget',
  );

  t.ok(
    (await budgetFallbacks(gw)) >= 2,
    'each check that could not read the spend counts in tollgate_redis_errors_total{component="budget"}',
  );
  const warned = await gw.logs.waitFor((e) => e.msg.includes('budgets are checked against the last spend'));
  t.equal(warned.level, 40, 'and a warning says what the check went on with');
  t.ok(
    Math.abs(Number(warned.lastKnownUsd) - ONE_REQUEST_USD) < 1e-12,
    `the last spend read for the key ($${warned.lastKnownUsd})`,
  );
  t.notOk(JSON.stringify(gw.logs.entries()).includes(budgetedKey), 'no key appears in the log');
});

t.test(
  'fail-open: a budgeted key whose spend this instance never read is let through while Redis is down',
  async (t) => {
    const { redis, gw, budgetedKey } = await setup(t, 'open');
    await redis.kill();
    t.equal(
      (await chat(gw, budgetedKey)).choices[0]?.message.content,
      DEFAULT_TEXT,
      'answered with no spend known',
    );
    const warned = await gw.logs.waitFor((e) => e.msg.includes('budgets are checked against the last spend'));
    t.equal(warned.lastKnownUsd, undefined, 'the warning says no spend was known');
    t.equal(warned.refused, false, 'and that the request went on');
  },
);

t.test('fail-closed: a budget check Redis cannot answer gets 503 at once', async (t) => {
  const { redis, gw, budgetedKey } = await setup(t, 'closed');
  const upstreamBefore = mock.requests.length;
  redis.pause();
  t.teardown(() => redis.resume());
  const err = await failure(chat(gw, budgetedKey));
  t.type(err, APIError, 'the SDK raises an APIError while Redis is still paused');
  if (err instanceof APIError) {
    t.equal(err.status, 503, '503');
    t.match(err.error, { type: 'server_error', code: 'usage_store_unavailable', param: null }, 'OpenAI-shaped');
  }
  t.equal(mock.requests.length, upstreamBefore, 'nothing was sent upstream');
  redis.resume();
  await redis.kill();
  const killed = await failure(chat(gw, budgetedKey));
  t.equal((killed as APIError).status, 503, 'with Redis killed too');
});

t.test('/v1/me and /admin/usage answer 503 instead of hanging while Redis is paused', async (t) => {
  const { redis, gw, budgetedKey } = await setup(t, 'open');
  const client = gw.client(budgetedKey);
  t.equal(
    (await client.get<{ budget: { monthlyUsd: number } }>('/me')).budget.monthlyUsd,
    1,
    '/v1/me answers on Redis',
  );
  redis.pause();
  t.teardown(() => redis.resume());
  const me = await failure(client.get('/me'));
  t.type(me, APIError, '/v1/me: the SDK raises an APIError while Redis is still paused');
  t.equal((me as APIError).status, 503, '/v1/me: 503');
  t.match((me as APIError).error, { type: 'server_error', code: 'usage_store_unavailable' }, '/v1/me: OpenAI-shaped');

  const usage = await http(`${gw.url}/admin/usage`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.equal(usage.status, 503, '/admin/usage: 503 while Redis is still paused');
  t.same(
    usage.body,
    {
      error: {
        message: usage.body?.error?.message,
        type: 'server_error',
        param: null,
        code: 'usage_store_unavailable',
      },
    },
    '/admin/usage: OpenAI-shaped',
  );
  const byTeam = await http(`${gw.url}/admin/usage?team=core`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.equal(byTeam.status, 503, '/admin/usage?team= (which lists keys first): 503');
  t.equal(byTeam.body?.error?.code, 'key_store_unavailable', 'naming the key store');

  redis.resume();
  t.equal(
    (await client.get<{ budget: { monthlyUsd: number } }>('/me')).budget.monthlyUsd,
    1,
    '/v1/me answers again once Redis does',
  );
});

t.test('an SDK with its default 10-minute timeout is not held by a paused Redis', async (t) => {
  const { redis, gw, budgetedKey } = await setup(t, 'open');
  const client = new OpenAI({ apiKey: budgetedKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  redis.pause();
  t.teardown(() => redis.resume());
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => client.chat.completions.create({ model: ALIAS, messages })),
  );
  t.ok(
    answers.every((a) => a.choices[0]?.message.content === DEFAULT_TEXT),
    '20 concurrent budgeted requests are answered while Redis is still paused',
  );
});
