// Admin-created keys while Redis cannot answer. Their records live in Redis and were cached for one
// second only, so in fail-open mode they stopped working a second into an outage (1,360 of 1,702
// requests got 503 key_store_unavailable in 3 s) and POST /admin/keys answered 500. Now each instance
// keeps the last known record of every key it resolved, used only when a lookup fails, and the admin
// API answers 503.
//
// Redis is paused (SIGSTOP) rather than killed where its data must outlive the outage; a request that
// waited for it could not finish, so each one is asserted finished while Redis is still paused.
import { setTimeout } from 'node:timers/promises';
import { APIError, AuthenticationError } from 'openai';
import t, { type Test } from 'tap';
import { ADMIN_TOKEN, adminApi, poll, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, randomKey, startGateway, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

/** How long a key record read from Redis is trusted without asking again (the revocation bound). */
const KEY_CACHE_TTL_MS = 1_000;
const messages = [{ role: 'user' as const, content: 'hi' }];

const mock = await startMockUpstream();
t.teardown(() => mock.close());

/** Gateways on one killable redis-server of the test's own, sharing its keys. */
async function fleet(t: Test, instances: number): Promise<{ redis: RedisServer; gateways: Gateway[] }> {
  const redis = await startRedis({ spawn: true });
  const keyPrefix = uniquePrefix('key-outage');
  const gateways: Gateway[] = [];
  for (let i = 0; i < instances; i++) {
    gateways.push(
      await startGateway({
        primary: mock,
        captureLogs: true,
        configure: (raw) => {
          raw.admin = { token: ADMIN_TOKEN };
          raw.redis = { url: redis.url, keyPrefix, failMode: 'open' };
        },
      }),
    );
  }
  t.teardown(async () => {
    redis.resume(); // a paused Redis would hold the gateways' close for its timeouts
    await Promise.all(gateways.map((gw) => gw.close()));
    await redis.stop();
  });
  return { redis, gateways };
}

const chat = (gw: Gateway, key: string) => gw.client(key).chat.completions.create({ model: ALIAS, messages });
const failure = (work: Promise<unknown>) => work.then(() => undefined, (err: unknown) => err);
/** The key cache's entries (answers read before the outage) have expired: the next lookup must ask Redis. */
const pastKeyCache = () => setTimeout(KEY_CACHE_TTL_MS + 100);

async function keyFallbacks(gw: Gateway): Promise<number> {
  const { values } = await gw.app.metrics.redisErrors.get();
  return values.find((v) => v.labels.component === 'keys')?.value ?? 0;
}

t.test('an admin-created key keeps working through a Redis outage; one revoked after it ends is refused', async (t) => {
  const { redis, gateways: [a, b] } = await fleet(t, 2);
  const admin = adminApi(a!.url);
  const used = await admin.createKey({ name: 'used', tier: 'tier-5' });
  const unused = await admin.createKey({ name: 'never-presented', tier: 'tier-5' });
  for (const gw of [a!, b!]) {
    t.equal((await chat(gw, used.key)).choices[0]?.message.content, DEFAULT_TEXT, 'the key works on Redis');
  }
  await pastKeyCache();

  redis.pause();
  t.teardown(() => redis.resume());
  for (const gw of [a!, b!]) {
    const answers = await Promise.all(Array.from({ length: 10 }, () => chat(gw, used.key)));
    t.ok(
      answers.every((x) => x.choices[0]?.message.content === DEFAULT_TEXT),
      'each instance answers the key it resolved before, while Redis is still paused',
    );
  }
  const unseen = await failure(chat(a!, unused.key));
  t.equal(
    (unseen as APIError).status,
    503,
    'a key this instance never resolved is refused with 503: it cannot be checked',
  );
  t.match((unseen as APIError).error, { type: 'server_error', code: 'key_store_unavailable' }, 'OpenAI-shaped');
  t.equal(
    ((await failure(chat(a!, randomKey('made-up')))) as APIError).status,
    503,
    'and so is a made-up key (it is not told apart from a real one)',
  );
  t.ok((await keyFallbacks(a!)) >= 1, 'the fallbacks count in tollgate_redis_errors_total{component="keys"}');
  const warned = await a!.logs.waitFor((e) => e.msg.includes('answered from their last known records'));
  t.equal(warned.level, 40, 'and a warning says so');
  t.notOk(
    a!.logs.lines.some((line) => line.includes(used.key) || line.includes(unused.key)),
    'no key appears in the log',
  );

  redis.resume();
  t.equal((await admin.call('DELETE', `/keys/${used.id}`)).status, 200, 'revoked on instance A once Redis answers');
  t.type(await failure(chat(a!, used.key)), AuthenticationError, 'A refuses it at once');
  // B resolved it before the outage and served it from that record during it; now it asks Redis again.
  await poll(
    async () => ((await failure(chat(b!, used.key))) instanceof AuthenticationError ? true : undefined),
    5_000,
  );
  t.type(await failure(chat(b!, used.key)), AuthenticationError, 'B refuses it within the cache TTL');
  await pastKeyCache();
  redis.pause();
  for (const gw of [a!, b!]) {
    t.type(
      await failure(chat(gw, used.key)),
      AuthenticationError,
      'in a second outage the revoked key stays refused: its last known record is the revoked one',
    );
  }
});

t.test('POST /admin/keys answers 503 while Redis is paused or down', async (t) => {
  const { redis, gateways: [gw] } = await fleet(t, 1);
  const admin = adminApi(gw!.url);
  const existing = await admin.createKey({ name: 'existing', tier: 'tier-5' });
  redis.pause();
  const paused = await admin.call('POST', '/keys', { name: 'during-a-stall', tier: 'tier-5' });
  t.equal(paused.status, 503, 'POST /admin/keys: 503 while Redis is still paused');
  t.same(
    paused.body,
    {
      error: {
        message: paused.body?.error?.message,
        type: 'server_error',
        param: null,
        code: 'key_store_unavailable',
      },
    },
    'OpenAI-shaped',
  );
  t.equal((await admin.call('GET', '/keys')).status, 503, 'GET /admin/keys: 503');
  t.equal(
    (await admin.call('PATCH', `/keys/${existing.id}`, { name: 'renamed' })).status,
    503,
    'PATCH /admin/keys/:id: 503',
  );
  t.equal((await admin.call('DELETE', `/keys/${existing.id}`)).status, 503, 'DELETE /admin/keys/:id: 503');
  redis.resume();
  await redis.kill();
  const down = await admin.call('POST', '/keys', { name: 'during-an-outage', tier: 'tier-5' });
  t.equal(down.status, 503, 'POST /admin/keys: 503 with Redis killed (was 500)');
  t.equal(down.body?.error?.code, 'key_store_unavailable', 'naming the key store');
});
