// GET /v1/me: the calling key's tier, limits, models, usage this UTC month and what is left of its budget.
import t, { type Test } from 'tap';
import { AuthenticationError } from 'openai';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import { ADMIN_TOKEN, adminApi, expectedCostUsd, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';
import { zeroUsageCounters } from '../../helpers/usage-counters.js';

const OTHER_ALIAS = 'gpt-4.1-mini';
const mock = await startMockUpstream({ promptTokens: 20, cachedTokens: 4, reasoningTokens: 2 });
const redis = await startRedis();
const PREFIX = uniquePrefix('me');
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});

async function gateway(t: Test, useRedis: boolean): Promise<Gateway> {
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      if (useRedis) raw.redis = { url: redis.url, keyPrefix: PREFIX };
      raw.models[OTHER_ALIAS] = {
        routes: [{ provider: 'primary', model: OTHER_ALIAS }],
        pricing: { input: 0.4, output: 1.6 },
      };
    },
  });
  t.teardown(() => gw.close());
  return gw;
}

interface Me {
  object: string;
  id: string;
  name: string;
  team: string | null;
  tier: string;
  limits: Record<string, number>;
  models: string[];
  expiresAt: string | null;
  usageThisMonth: {
    month: string;
    requests: number;
    promptTokens: number;
    cachedTokens: number;
    completionTokens: number;
    reasoningTokens: number;
    costUsd: number;
  };
  budget: { monthlyUsd: number; spentUsd: number; remainingUsd: number } | null;
}

const ONE_CALL = {
  promptTokens: 20,
  cachedTokens: 4,
  completionTokens: wordChunks(DEFAULT_TEXT).length + 2,
  reasoningTokens: 2,
};

async function scenario(t: Test, useRedis: boolean): Promise<void> {
  const gw = await gateway(t, useRedis);
  const created = await adminApi(gw.url).createKey({
    name: 'me-key',
    tier: 'tier-1',
    team: 'platform',
    models: [ALIAS],
    budgetUsd: 0.5,
    expiresAt: '2099-01-01',
  });
  const client = gw.client(created.key);
  const fresh = await client.get<Me>('/me');
  const month = new Date().toISOString().slice(0, 7);
  t.same(
    fresh,
    {
      object: 'tollgate.key',
      id: created.id,
      name: 'me-key',
      team: 'platform',
      tier: 'tier-1',
      limits: { rpm: 500, rpd: 10_000, tpm: 200_000 },
      models: [ALIAS],
      expiresAt: '2099-01-01T00:00:00.000Z',
      usageThisMonth: { month, ...zeroUsageCounters() },
      budget: { monthlyUsd: 0.5, spentUsd: 0, remainingUsd: 0.5 },
    },
    'a new key: its tier, limits, models, no usage, the whole budget left',
  );

  await client.chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] });
  await client.responses.create({ model: ALIAS, input: 'hi' });
  await gw.app.usage.store.flush();
  const me = await client.get<Me>('/me');
  const cost = 2 * expectedCostUsd(ONE_CALL);
  t.match(
    me.usageThisMonth,
    {
      month,
      requests: 2,
      promptTokens: 40,
      cachedTokens: 8,
      completionTokens: 2 * ONE_CALL.completionTokens,
      reasoningTokens: 4,
    },
    'usage this month: the two calls',
  );
  t.ok(Math.abs(me.usageThisMonth.costUsd - cost) < 1e-9, `usage this month costs ${cost}`);
  t.ok(Math.abs(me.budget!.spentUsd - cost) < 1e-9, 'budget spent: the same cost');
  t.ok(Math.abs(me.budget!.remainingUsd - (0.5 - cost)) < 1e-9, 'budget left: the rest');

  const unlimited = await gw.client().get<Me>('/me');
  t.match(
    unlimited,
    {
      id: staticKeyId(hashKey(gw.key)),
      name: 'test',
      tier: 'tier-5',
      limits: { rpm: 30_000, tpm: 150_000_000 },
      models: [ALIAS, OTHER_ALIAS],
      budget: null,
      team: null,
      expiresAt: null,
    },
    'the static key: its own tier, every model, no budget',
  );
  t.equal(unlimited.usageThisMonth.requests, 0, "another key's usage is not shown");
  t.notOk(
    JSON.stringify(me).includes(created.key) || JSON.stringify(me).includes('sha256'),
    'neither the key nor its hash is shown',
  );

  const anonymous = await gw
    .client('sk-tg-not-a-real-key-000000000000')
    .get('/me')
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.type(anonymous, AuthenticationError, 'an unknown key gets 401');
}

t.test('memory stores: GET /v1/me shows tier, limits, usage this month and budget left', (t) => scenario(t, false));

t.test('redis stores: GET /v1/me shows tier, limits, usage this month and budget left', (t) => scenario(t, true));
