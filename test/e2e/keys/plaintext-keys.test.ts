// Plaintext keys are shown once, in the 201 of POST /admin/keys, and nowhere else: not
// in a log line, not in any admin listing, and never written to Redis (only their SHA-256 is).
import t from 'tap';
import { Redis } from 'ioredis';
import { hashKey } from '../../../src/keys/api-key.js';
import { ADMIN_TOKEN, adminApi, flushUsage, http, adminOnRedis, upstreamAndRedis } from '../../helpers/admin-http.js';
import { ALIAS, randomKey, startGateway } from '../../helpers/gateway.js';

const { mock, redis, prefix: PREFIX } = await upstreamAndRedis(t, 'plaintext');
const reader = new Redis(redis.url);
const gw = await startGateway({
  primary: mock,
  captureLogs: true,
  configure: adminOnRedis(redis.url, PREFIX),
});
t.teardown(async () => {
  await gw.close();
  reader.disconnect();
});

const admin = adminApi(gw.url);
const messages = [{ role: 'user' as const, content: 'hi' }];
const fail = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

/** Every Redis key with its value, as text. */
async function dumpRedis(): Promise<Map<string, string>> {
  const dump = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, names] = await reader.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const name of names) {
      const type = await reader.type(name);
      const value =
        type === 'string'
          ? await reader.get(name)
          : type === 'hash'
            ? await reader.hgetall(name)
            : type === 'set'
              ? await reader.smembers(name)
              : type === 'zset'
                ? await reader.zrange(name, '0', '-1', 'WITHSCORES')
                : type === 'list'
                  ? await reader.lrange(name, 0, -1)
                  : `<${type}>`;
      dump.set(name, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return dump;
}

/** The whole key and its random part (what would leak a usable key even without the prefix). */
const forms = (key: string) => [key, key.slice('sk-tg-'.length)];

t.test('plaintext keys appear in no log line, no admin listing and nowhere in Redis', async (t) => {
  const created = [
    await admin.createKey({ name: 'leaky-a', tier: 'tier-5', team: 'sec' }),
    await admin.createKey({ name: 'leaky-b', tier: 'tier-5', team: 'sec', models: [ALIAS] }),
  ];
  const [a, b] = created as [(typeof created)[0], (typeof created)[0]];
  const bogus = randomKey('bogus');

  // Traffic of every kind: success, stream, responses, other headers, errors, a revoked and an unknown key.
  const clientA = gw.client(a.key);
  await clientA.chat.completions.create({ model: ALIAS, messages });
  for await (const _chunk of await clientA.chat.completions.create({ model: ALIAS, messages, stream: true }));
  await clientA.responses.create({ model: ALIAS, input: 'hi' });
  await http(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'x-api-key': b.key },
    body: { model: ALIAS, messages },
  });
  await http(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'api-key': b.key },
    body: { model: 'no-such-model', messages },
  });
  await http(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${b.key}` } });
  t.equal(mock.requests.length, 4, 'the upstream answered four requests');
  await admin.call('PATCH', `/keys/${b.id}`, { name: 'leaky-b2' });
  await admin.call('DELETE', `/keys/${b.id}`);
  t.ok(await fail(gw.client(b.key).chat.completions.create({ model: ALIAS, messages })), 'the revoked key is refused');
  t.ok(await fail(gw.client(bogus).chat.completions.create({ model: ALIAS, messages })), 'an unknown key is refused');
  await gw.client().chat.completions.create({ model: ALIAS, messages }); // the static key, too
  await flushUsage(gw);

  const secrets = [...forms(a.key), ...forms(b.key), ...forms(bogus), ...forms(gw.key)];

  const logText = gw.logs.lines.join('');
  t.ok(gw.logs.entries().filter((e) => e.msg === 'request completed').length >= 9, 'every request was logged');
  t.ok(gw.logs.entries().some((e) => e.keyId === a.id), 'the logs name the key by id');
  for (const secret of secrets) t.notOk(logText.includes(secret), `no log line contains ${secret.slice(0, 12)}…`);
  t.notOk(logText.includes(ADMIN_TOKEN), 'no log line contains the admin token');

  const listings = [
    await admin.call('GET', '/keys'),
    await admin.call('GET', `/keys/${a.id}`),
    await admin.call('GET', `/keys/${b.id}`),
    await admin.call('GET', '/usage?groupBy=key,model,day'),
    await admin.call('GET', '/usage?groupBy=key&format=csv'),
    await admin.call('GET', '/usage?team=sec'),
  ];
  t.ok(listings.every((res) => res.status === 200), 'every listing answered 200');
  t.ok(listings[0]!.text.includes(a.id) && listings[0]!.text.includes(b.id), 'the key list has both keys');
  const listingText = listings.map((res) => res.text).join('\n');
  for (const secret of secrets) {
    t.notOk(listingText.includes(secret), `no admin listing contains ${secret.slice(0, 12)}…`);
  }
  t.notOk(listingText.includes('sha256'), 'no admin listing contains a key hash');

  const dump = await dumpRedis();
  t.ok(dump.size > 0, `Redis holds ${dump.size} keys`);
  const redisText = [...dump].map(([name, value]) => `${name}\n${value}`).join('\n');
  for (const secret of secrets) {
    t.notOk(redisText.includes(secret), `no Redis key or value contains ${secret.slice(0, 12)}…`);
  }
  t.ok(
    redisText.includes(hashKey(a.key)) && redisText.includes(hashKey(b.key)),
    'Redis holds the keys by their SHA-256 (the scan saw them)',
  );
});
