// Managed keys over HTTP against real gateways on one Redis: create (plaintext shown
// once) → use with the SDK → list (no plaintext, no hash) → patch tier and models (in force at once) →
// revoke (401); and a key revoked on one instance is refused by another within one second, on one Redis
// and on a Redis Cluster.
import t, { type Test } from 'tap';
import { AuthenticationError, NotFoundError } from 'openai';
import { ADMIN_TOKEN, adminApi, upstreamAndRedis } from '../../helpers/admin-http.js';
import { pastTtl } from '../../helpers/cache-ttl.js';
import { ALIAS, startGateway, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT } from '../../helpers/mock-upstream.js';
import { redisSection, type RedisTarget } from '../../helpers/rate-limit-harness.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

const OTHER_ALIAS = 'gpt-4.1-mini';
const { mock, redis, prefix: PREFIX } = await upstreamAndRedis(t, 'key-lifecycle');
const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());
const backends = [
  { name: 'one Redis', target: redis.url },
  { name: 'a Redis Cluster', target: cluster.nodes },
];

async function gateway(t: Test, target: RedisTarget = redis.url): Promise<Gateway> {
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      raw.redis = redisSection(target, { keyPrefix: PREFIX });
      raw.models[OTHER_ALIAS] = { routes: [{ provider: 'primary', model: OTHER_ALIAS }] };
    },
  });
  t.teardown(() => gw.close());
  return gw;
}

const messages = [{ role: 'user' as const, content: 'hi' }];
const fail = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

t.test('create → use → list → patch tier and models → revoke, over HTTP', async (t) => {
  const gw = await gateway(t);
  const admin = adminApi(gw.url);

  const created = await admin.call('POST', '/keys', { name: 'alice', tier: 'tier-1', team: 'red' });
  t.equal(created.status, 201, 'POST /admin/keys: 201');
  const { id, key } = created.body as { id: string; key: string };
  t.match(key, /^sk-tg-[0-9A-Za-z]{43}$/, 'the plaintext key is shown, sk-tg-…');
  t.match(
    created.body,
    {
      id: /^key_/,
      name: 'alice',
      tier: 'tier-1',
      team: 'red',
      source: 'admin',
      status: 'active',
      createdAt: String,
    },
    'with the record',
  );
  t.notOk('keyHash' in created.body!, 'but not its hash');

  const client = gw.client(key);
  const { data: completion, response } = await client.chat.completions
    .create({ model: ALIAS, messages })
    .withResponse();
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the new key works with the SDK');
  t.equal(response.headers.get('x-ratelimit-limit-requests'), '500', "under its tier's limits (tier-1: 500 rpm)");
  t.same(
    (await client.models.list()).data.map((m) => m.id).sort(),
    [ALIAS, OTHER_ALIAS].sort(),
    'it may use every model',
  );

  const listed = await admin.call('GET', '/keys');
  t.equal(listed.status, 200, 'GET /admin/keys: 200');
  const row = (listed.body?.data as Array<{ id: string }>).find((k) => k.id === id)!;
  t.match(
    row,
    { id, name: 'alice', tier: 'tier-1', team: 'red', status: 'active', source: 'admin' },
    'the list has the key',
  );
  t.notOk('key' in row || 'keyHash' in row, 'the row has no plaintext or hash field');
  t.notOk(
    listed.text.includes(key) || listed.text.includes(key.slice('sk-tg-'.length)),
    'the plaintext appears nowhere in the list',
  );
  t.notOk(listed.text.includes('sha256'), 'no key hash appears in the list');
  const one = await admin.call('GET', `/keys/${id}`);
  t.match(one.body, { id, status: 'active' }, 'GET /admin/keys/:id finds it');
  t.notOk(one.text.includes(key) || one.text.includes('sha256'), 'without plaintext or hash');

  const patched = await admin.call('PATCH', `/keys/${id}`, { tier: 'tier-5', models: [OTHER_ALIAS] });
  t.equal(patched.status, 200, 'PATCH /admin/keys/:id: 200');
  t.match(patched.body, { id, tier: 'tier-5', models: [OTHER_ALIAS], status: 'active' }, 'the patched record');
  const refused = await fail(client.chat.completions.create({ model: ALIAS, messages }));
  t.type(refused, NotFoundError, 'a model the key may no longer use: 404 (its existence not revealed)');
  t.match(refused, { code: 'model_not_found' }, 'model_not_found');
  const { response: afterPatch } = await client.chat.completions
    .create({ model: OTHER_ALIAS, messages })
    .withResponse();
  t.equal(
    afterPatch.headers.get('x-ratelimit-limit-requests'),
    '30000',
    'the new tier is in force at once (tier-5: 30000 rpm)',
  );
  t.same((await client.models.list()).data.map((m) => m.id), [OTHER_ALIAS], '/v1/models lists only the allowed model');
  const cleared = await admin.call('PATCH', `/keys/${id}`, { models: null });
  t.notOk('models' in cleared.body!, 'PATCH models: null clears the restriction');
  t.equal(
    (await client.chat.completions.create({ model: ALIAS, messages })).choices[0]?.message.content,
    DEFAULT_TEXT,
    'every model is allowed again',
  );

  const expired = await admin.call('PATCH', `/keys/${id}`, { expiresAt: '2020-01-01' });
  t.match(
    expired.body,
    { expiresAt: '2020-01-01T00:00:00.000Z', status: 'expired' },
    'PATCH expiresAt into the past: the key is expired',
  );
  t.type(await fail(client.models.list()), AuthenticationError, 'an expired key gets 401');
  const renewed = await admin.call('PATCH', `/keys/${id}`, { expiresAt: null });
  t.match(renewed.body, { status: 'active' }, 'PATCH expiresAt: null renews it');
  t.equal((await client.models.list()).data.length, 2, 'the renewed key works again');

  const revoked = await admin.call('DELETE', `/keys/${id}`);
  t.equal(revoked.status, 200, 'DELETE /admin/keys/:id: 200');
  t.match(revoked.body, { id, status: 'revoked', revokedAt: String }, 'the revoked record');
  t.notOk(revoked.text.includes(key), 'no plaintext in the answer');
  const denied = await fail(client.chat.completions.create({ model: OTHER_ALIAS, messages }));
  t.type(denied, AuthenticationError, 'the revoked key gets 401 on the instance that revoked it, at once');
  t.match(
    denied,
    { status: 401, code: 'invalid_api_key', type: 'invalid_request_error' },
    'OpenAI-shaped invalid_api_key',
  );
  t.match((await admin.call('GET', `/keys/${id}`)).body, { status: 'revoked' }, 'the list shows it revoked');
  t.equal(
    (await admin.call('PATCH', `/keys/${id}`, { name: 'alice-again' })).body?.status,
    'revoked',
    'a patch does not un-revoke it',
  );
  t.type(await fail(client.models.list()), AuthenticationError, 'still refused after a patch');
});

for (const { name, target } of backends) {
  t.test(`two instances on ${name}: a key revoked via A is refused by B within one second`, async (t) => {
    const a = await gateway(t, target);
    const b = await gateway(t, target);
    const created = await adminApi(a.url).createKey({ name: 'bob', tier: 'tier-5' });
    const onB = b.client(created.key);
    t.equal(
      (await onB.chat.completions.create({ model: ALIAS, messages })).choices[0]?.message.content,
      DEFAULT_TEXT,
      'a key created on A works on B',
    );
    t.match(
      (await adminApi(b.url).call('GET', `/keys/${created.id}`)).body,
      { id: created.id, status: 'active' },
      'B lists it too',
    );
    await onB.models.list(); // B has just looked the key up: it is in B's cache

    const revokedAt = Date.now();
    const revoked = await adminApi(a.url).call('DELETE', `/keys/${created.id}`);
    t.equal(revoked.status, 200, 'revoked via A');
    // What B cached before the DELETE has expired a second after it: the next request must be refused.
    await pastTtl(revokedAt, 1_000);
    t.type(await fail(onB.models.list()), AuthenticationError, 'B refused the key a second after the DELETE');
    t.type(
      await fail(onB.chat.completions.create({ model: ALIAS, messages })),
      AuthenticationError,
      'B refuses chat with it too',
    );
    const listed = (await adminApi(b.url).call('GET', `/keys/${created.id}`)).body;
    t.match(listed, { status: 'revoked' }, 'B lists it revoked');
  });
}

t.test('two instances on one Redis: a patch made via A is in force on B within one second', async (t) => {
  const a = await gateway(t);
  const b = await gateway(t);
  const created = await adminApi(a.url).createKey({ name: 'carol', tier: 'tier-5' });
  const onB = b.client(created.key);
  await onB.models.list(); // cached on B
  const patchedAt = Date.now();
  await adminApi(a.url).call('PATCH', `/keys/${created.id}`, { models: [OTHER_ALIAS] });
  await pastTtl(patchedAt, 1_000);
  t.equal((await onB.models.list()).data.length, 1, 'B applied the patch a second after it was made');
  t.type(
    await fail(onB.chat.completions.create({ model: ALIAS, messages })),
    NotFoundError,
    'B refuses the model the key lost',
  );
});
