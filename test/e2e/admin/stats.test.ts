// GET /admin/stats against a real gateway (on each store) and a mock upstream: a fresh instance shows
// zeros; an rpm 429, a budget refusal and an upstream 500 provoked with the openai SDK each show up
// under their reason or provider and cause; the call needs the admin token.
import t from 'tap';
import { ADMIN_TOKEN, adminApi, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type RawConfig } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

const mock = await startMockUpstream();
const redis = await startRedis();
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});

const STORES: [string, (raw: RawConfig) => void][] = [
  ['memory', (raw) => (raw.admin = { token: ADMIN_TOKEN })],
  [
    'redis',
    (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      raw.redis = { url: redis.url, keyPrefix: uniquePrefix('stats') };
    },
  ],
];

const hello = { model: ALIAS, messages: [{ role: 'user' as const, content: 'hi' }] };
const NO_REFUSALS = { rpm: 0, rpd: 0, tpm: 0, tpd: 0, budget: 0 };

for (const [store, configure] of STORES) {
  t.test(`${store}: refusals by reason and upstream failures by provider and cause, since start`, async (t) => {
    const before = Date.now();
    const gw = await startGateway({ primary: mock, configure });
    t.teardown(() => gw.close());
    const admin = adminApi(gw.url);
    const stats = async () => {
      const res = await admin.call('GET', '/stats');
      t.equal(res.status, 200, 'GET /admin/stats: 200');
      return res.body as { since: string; refusals: Record<string, number>; upstreamFailures: unknown[] };
    };

    const fresh = await stats();
    t.same(fresh, { since: fresh.since, refusals: NO_REFUSALS, upstreamFailures: [] }, 'a fresh instance: zeros');
    t.equal(new Date(fresh.since).toISOString(), fresh.since, 'since: an ISO time');
    const since = Date.parse(fresh.since);
    t.ok(since >= before && since <= Date.now(), "the instance's start");

    // The free tier allows 3 requests a minute: the fourth is refused on rpm.
    const free = gw.client((await admin.createKey({ name: 'free', tier: 'free' })).key);
    for (let i = 0; i < 3; i++) await free.chat.completions.create(hello);
    const limited = await free.chat.completions.create(hello).catch((err: unknown) => err);
    t.match(limited, { status: 429, code: 'rate_limit_exceeded' }, 'the fourth request of the minute: 429');

    const broke = gw.client((await admin.createKey({ name: 'broke', tier: 'tier-1', budgetUsd: 0 })).key);
    const refused = await broke.chat.completions.create(hello).catch((err: unknown) => err);
    t.match(refused, { status: 429, code: 'insufficient_quota' }, 'a budget of 0: 429 insufficient_quota');

    mock.behave({ kind: 'error', status: 500 });
    const failed = await gw.client().chat.completions.create(hello).catch((err: unknown) => err);
    mock.reset();
    t.match(failed, { status: 500 }, "the upstream's 500 reaches the client");

    const after = await stats();
    t.same(
      after,
      {
        since: fresh.since,
        refusals: { ...NO_REFUSALS, rpm: 1, budget: 1 },
        upstreamFailures: [{ provider: 'primary', cause: '500', count: 1 }],
      },
      'one rpm refusal, one budget refusal, one failed attempt at primary with cause 500; since unchanged',
    );
  });
}

t.test('GET /admin/stats needs the admin token', async (t) => {
  const gw = await startGateway({ primary: mock, configure: STORES[0]![1] });
  t.teardown(() => gw.close());
  const res = await adminApi(gw.url, 'not-the-token').call('GET', '/stats');
  t.equal(res.status, 401, 'a wrong token: 401');
  t.match(res.body, { error: { code: 'invalid_api_key' } }, 'OpenAI-shaped');
});
