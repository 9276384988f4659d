// The admin API's door: with a token configured, a missing or wrong token gets an
// OpenAI-shaped 401 and changes nothing; without a token the admin API does not exist (404).
import t from 'tap';
import { ADMIN_TOKEN, adminApi, http, adminOnRedis, upstreamAndRedis } from '../../helpers/admin-http.js';
import { startGateway } from '../../helpers/gateway.js';

const { mock, redis, prefix: PREFIX } = await upstreamAndRedis(t, 'admin-auth');

const ROUTES = [
  ['GET', '/admin/keys'],
  ['POST', '/admin/keys'],
  ['GET', '/admin/keys/key_000000000000'],
  ['PATCH', '/admin/keys/key_000000000000'],
  ['DELETE', '/admin/keys/key_000000000000'],
  ['GET', '/admin/usage'],
] as const;

t.test('with a token configured: a missing or wrong admin token gets an OpenAI-shaped 401', async (t) => {
  const gw = await startGateway({
    primary: mock,
    configure: adminOnRedis(redis.url, PREFIX),
  });
  t.teardown(() => gw.close());
  const wrong: [string, Record<string, string>][] = [
    ['no authorization header', {}],
    ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
    ['the token minus its last character', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ['the token plus a character', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
    ['the token as Basic', { authorization: `Basic ${ADMIN_TOKEN}` }],
    ['the token in x-api-key', { 'x-api-key': ADMIN_TOKEN }],
    ['a valid client key', { authorization: `Bearer ${gw.key}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ];
  for (const [label, headers] of wrong) {
    for (const [method, path] of ROUTES) {
      const res = await http(`${gw.url}${path}`, {
        method,
        headers,
        ...(method === 'POST' || method === 'PATCH' ? { body: { name: 'intruder', tier: 'tier-5' } } : {}),
      });
      t.equal(res.status, 401, `${label}, ${method} ${path}: 401`);
      t.same(
        res.body,
        {
          error: {
            message: res.body?.error?.message,
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        },
        `${label}, ${method} ${path}: OpenAI shape, all four fields`,
      );
      t.type(res.body?.error?.message, 'string', `${label}, ${method} ${path}: with a message`);
      t.notOk(res.text.includes(ADMIN_TOKEN), `${label}, ${method} ${path}: the token is not echoed`);
    }
  }
  const keys = await adminApi(gw.url).call('GET', '/keys');
  t.equal(keys.status, 200, 'the right token is let in');
  const listed = keys.body?.data as Array<{ name: string }>;
  t.notOk(listed.some((k) => k.name === 'intruder'), 'no refused POST created a key');
});

t.test('without a token configured: the admin API is absent (404)', async (t) => {
  const gw = await startGateway({ primary: mock, configure: (raw) => (raw.admin = { token: '' }) });
  t.teardown(() => gw.close());
  for (const [method, path] of ROUTES) {
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    ];
    for (const headers of headerSets) {
      const res = await http(`${gw.url}${path}`, {
        method,
        headers,
        ...(method === 'POST' || method === 'PATCH' ? { body: { name: 'x', tier: 'tier-5' } } : {}),
      });
      t.equal(res.status, 404, `${method} ${path} (${headers.authorization ?? 'no header'}): 404`);
      t.match(
        res.body,
        { error: { message: String, type: 'invalid_request_error' } },
        `${method} ${path}: OpenAI-shaped`,
      );
    }
  }
  t.equal((await gw.client().models.list()).data.length, 1, 'the /v1 API still works');
});
