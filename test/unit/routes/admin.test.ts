import t, { type Test } from 'tap';
import { hashKey, isKeyActive } from '../../../src/keys/api-key.js';
import { ADMIN_TOKEN, buildAdminApp } from '../../helpers/admin-app.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function setup(t: Test) {
  const ctx = await buildAdminApp();
  t.teardown(() => ctx.app.close());
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const headers = body === undefined ? auth : { ...auth, 'content-type': 'application/json' };
    const res = await ctx.app.inject({ method, url, headers, ...(body !== undefined && { payload: body as object }) });
    return { status: res.statusCode, body: res.json(), text: res.body };
  };
  return { ...ctx, call };
}

/** OpenAI's error envelope, all four keys present. */
const openAiError = (param: string | null, code?: string) => ({
  error: { message: String, type: 'invalid_request_error', param, ...(code !== undefined && { code }) },
});

t.test('a missing or wrong admin token gets an OpenAI-shaped 401', async (t) => {
  const { app } = await setup(t);
  for (const [label, headers] of [
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer nope' }],
    ['token prefix', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ['not bearer', { authorization: `Basic ${ADMIN_TOKEN}` }],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: '/admin/keys', headers });
    t.equal(res.statusCode, 401, `${label}: 401`);
    t.match(
      res.json(),
      { error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
      `${label}: OpenAI shape`,
    );
  }
});

t.test('an empty configured token refuses everyone', async (t) => {
  const { app } = await buildAdminApp('');
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/admin/keys', headers: { authorization: 'Bearer  ' } });
  t.equal(res.statusCode, 401, 'a blank bearer does not match a blank token');
});

t.test('POST /keys creates a key and shows its plaintext once', async (t) => {
  const { call, keys } = await setup(t);
  const input = {
    name: 'alice',
    tier: 'tier-1',
    team: 'red',
    models: ['gpt-test'],
    budgetUsd: 5,
    expiresAt: '2027-01-01',
  };
  const created = await call('POST', '/admin/keys', input);
  t.equal(created.status, 201, '201 Created');
  t.match(
    created.body,
    {
      ...input,
      id: /^key_/,
      key: /^sk-tg-/,
      expiresAt: '2027-01-01T00:00:00.000Z',
      source: 'admin',
      status: 'active',
    },
    'the record and key',
  );
  t.notOk('keyHash' in created.body, 'no hash in the response');
  const stored = await keys.findByHash(hashKey(created.body.key));
  t.equal(stored?.id, created.body.id, 'the plaintext authenticates as the new key');
  const fetched = await call('GET', `/admin/keys/${created.body.id}`);
  t.notOk(fetched.text.includes(created.body.key), 'GET never shows the plaintext again');
  t.notOk('key' in fetched.body, 'GET has no key field');
});

t.test('POST /keys validation names the parameter', async (t) => {
  const { call } = await setup(t);
  const cases: [string, unknown, string | null, RegExp][] = [
    ['unknown tier', { name: 'a', tier: 'gold' }, 'tier', /unknown tier "gold"; configured: tier-1, tier-2/],
    ['unknown model', { name: 'a', tier: 'tier-1', models: ['gpt-test', 'gpt-9'] }, 'models', /unknown model "gpt-9"/],
    ['missing name', { tier: 'tier-1' }, 'name', /name/],
    ['unknown field', { name: 'a', tier: 'tier-1', budget: 5 }, 'budget', /Unrecognized key/],
    ['negative budget', { name: 'a', tier: 'tier-1', budgetUsd: -1 }, 'budgetUsd', /budgetUsd/],
    ['bad expiry', { name: 'a', tier: 'tier-1', expiresAt: 'next tuesday' }, 'expiresAt', /expiresAt/],
  ];
  for (const [label, body, param, message] of cases) {
    const res = await call('POST', '/admin/keys', body);
    t.equal(res.status, 400, `${label}: 400`);
    t.match(res.body, openAiError(param), `${label}: OpenAI shape naming ${param}`);
    t.match(res.body.error.message, message, `${label}: the message says what is wrong`);
  }
  const malformed = await call('POST', '/admin/keys', '{"name":');
  t.equal(malformed.status, 400, 'malformed JSON: 400');
  t.match(malformed.body, openAiError(null), 'malformed JSON: OpenAI shape');
});

t.test('GET /keys lists config and managed keys without hashes', async (t) => {
  const { call, staticKey, red, blue } = await setup(t);
  const res = await call('GET', '/admin/keys');
  t.equal(res.status, 200, '200');
  t.same(
    res.body.data.map((k: { id: string }) => k.id),
    [staticKey.id, red.id, blue.id],
    'config key first, then managed ones',
  );
  t.match(res.body.data[0], { name: 'ops', source: 'config', status: 'active' }, 'the config key is marked as such');
  t.notOk(res.text.includes('sha256'), 'no key hash anywhere in the list');
});

t.test('GET /keys/:id finds config and managed keys, 404 otherwise', async (t) => {
  const { call, staticKey, red } = await setup(t);
  t.match((await call('GET', `/admin/keys/${red.id}`)).body, { id: red.id, name: 'red-app' }, 'a managed key');
  t.match(
    (await call('GET', `/admin/keys/${staticKey.id}`)).body,
    { id: staticKey.id, source: 'config' },
    'a config key',
  );
  const missing = await call('GET', '/admin/keys/key_000000000000');
  t.equal(missing.status, 404, 'unknown id: 404');
  t.match(missing.body, openAiError('id', 'key_not_found'), 'unknown id: OpenAI shape');
});

t.test('PATCH /keys/:id updates and clears fields', async (t) => {
  const { call, red, staticKey } = await setup(t);
  const res = await call('PATCH', `/admin/keys/${red.id}`, {
    name: 'renamed',
    tier: 'tier-2',
    team: null,
    budgetUsd: 3,
  });
  t.equal(res.status, 200, '200');
  t.match(res.body, { id: red.id, name: 'renamed', tier: 'tier-2', budgetUsd: 3 }, 'fields changed');
  t.notOk('team' in res.body, 'null cleared the team');
  t.match(
    (await call('PATCH', `/admin/keys/${red.id}`, { tier: 'gold' })).body,
    openAiError('tier'),
    'unknown tier: 400 naming tier',
  );
  t.equal((await call('PATCH', `/admin/keys/${red.id}`, { name: null })).status, 400, 'name cannot be cleared');
  t.equal((await call('PATCH', '/admin/keys/key_000000000000', { name: 'x' })).status, 404, 'unknown id: 404');
  const readOnly = await call('PATCH', `/admin/keys/${staticKey.id}`, { name: 'x' });
  t.equal(readOnly.status, 400, 'config key: 400');
  t.match(readOnly.body, openAiError('id', 'key_read_only'), 'config key: OpenAI shape');
  t.match(readOnly.body.error.message, /config file and is read-only/, 'config key: the message says why');
});

t.test('DELETE /keys/:id revokes and returns the record', async (t) => {
  const { call, keys, red, staticKey } = await setup(t);
  const res = await call('DELETE', `/admin/keys/${red.id}`);
  t.equal(res.status, 200, '200');
  t.match(res.body, { id: red.id, status: 'revoked', revokedAt: String }, 'the revoked record');
  t.notOk(isKeyActive((await keys.get(red.id))!), 'the key no longer authenticates');
  t.equal((await call('DELETE', `/admin/keys/${staticKey.id}`)).status, 400, 'config key: 400');
  t.equal((await call('DELETE', '/admin/keys/key_000000000000')).status, 404, 'unknown id: 404');
});

t.test('GET /usage filters, groups and totals', async (t) => {
  const { call, blue } = await setup(t);
  const march = 'from=2026-03-01&to=2026-03-31';
  const totals = await call('GET', `/admin/usage?${march}`);
  t.same(
    totals.body,
    {
      data: [
        {
          requests: 3,
          promptTokens: 340,
          cachedTokens: 0,
          completionTokens: 170,
          reasoningTokens: 0,
          costUsd: 1.75,
          estimatedRequests: 0,
        },
      ],
    },
    'no grouping: one totals row',
  );
  const byDay = await call('GET', `/admin/usage?${march}&groupBy=day`);
  t.same(
    byDay.body.data.map((r: { day: string; requests: number }) => [r.day, r.requests]),
    [
      ['2026-03-01', 1],
      ['2026-03-02', 2],
    ],
    'grouped by day',
  );
  const byModelKey = await call('GET', `/admin/usage?${march}&groupBy=model,key`);
  t.equal(byModelKey.body.data.length, 3, 'grouped by model and key: three pairs');
  t.match(byModelKey.body.data[0], { keyId: String, model: String }, 'rows carry both dimensions');
  const team = await call('GET', `/admin/usage?${march}&team=red`);
  t.match(team.body.data, [{ requests: 2, costUsd: 0.75 }], 'team resolves to its keys');
  t.match(
    (await call('GET', `/admin/usage?${march}&keyId=${blue.id}`)).body.data,
    [{ requests: 1 }],
    'filtered by key',
  );
  t.match(
    (await call('GET', `/admin/usage?${march}&model=gpt-test`)).body.data,
    [{ requests: 2 }],
    'filtered by model',
  );
  t.match(
    (await call('GET', `/admin/usage?${march}&team=red&keyId=${blue.id}`)).body.data,
    [{ requests: 0 }],
    'a key outside the team: nothing',
  );
  t.match(
    (await call('GET', `/admin/usage?${march}&team=none`)).body.data,
    [{ requests: 0 }],
    'a team without keys: nothing',
  );
  t.match(
    (await call('GET', '/admin/usage')).body.data,
    [{ requests: 1, costUsd: 0.125 }],
    'default range: the current UTC month',
  );
});

t.test('GET /usage rejects bad parameters', async (t) => {
  const { call } = await setup(t);
  const cases: [string, string, string | null][] = [
    ['impossible date', 'from=2026-02-30', 'from'],
    ['not a date', 'to=March', 'to'],
    ['from after to', 'from=2026-03-02&to=2026-03-01', 'from'],
    ['unknown grouping', 'groupBy=day,week', 'groupBy'],
    ['unknown parameter', 'group_by=day', 'group_by'],
    ['range beyond retention', 'from=2020-01-01&to=2026-01-01', 'from'],
  ];
  for (const [label, query, param] of cases) {
    const res = await call('GET', `/admin/usage?${query}`);
    t.equal(res.status, 400, `${label}: 400`);
    t.match(res.body, openAiError(param), `${label}: OpenAI shape naming ${param}`);
  }
});

t.test('GET /usage?format=csv', async (t) => {
  const { app } = await setup(t);
  const res = await app.inject({
    method: 'GET',
    url: '/admin/usage?from=2026-03-01&to=2026-03-31&groupBy=model,day&format=csv',
    headers: auth,
  });
  t.equal(res.statusCode, 200, '200');
  t.match(res.headers['content-type'], /^text\/csv/, 'text/csv');
  const lines = res.body.trimEnd().split('\r\n');
  t.equal(
    lines[0],
    'day,model,requests,promptTokens,cachedTokens,completionTokens,reasoningTokens,costUsd,estimatedRequests',
    'header row, grouping columns first',
  );
  t.same(
    lines.slice(1),
    [
      '2026-03-01,gpt-test,1,100,0,50,0,0.5,0',
      '2026-03-02,gpt-mini,1,200,0,100,0,0.25,0',
      '2026-03-02,gpt-test,1,40,0,20,0,1,0',
    ],
    'one line per group',
  );
});
