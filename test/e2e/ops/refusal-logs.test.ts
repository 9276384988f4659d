// A refused request's log line says why: `reason` (rpm, rpd, tpm, tpd, budget, model, key) beside its
// status and error code, for every refusal a client can meet, with no client key in any line.
import t from 'tap';
import { ADMIN_TOKEN, adminApi } from '../../helpers/admin-http.js';
import { ALIAS, gatewayFixture, randomKey, type LogEntry } from '../../helpers/gateway.js';

const keys = {
  rpm: randomKey('rpm'),
  rpd: randomKey('rpd'),
  tpm: randomKey('tpm'),
  tpd: randomKey('tpd'),
  budget: randomKey('budget'),
  expired: randomKey('expired'),
};

const { gw } = await gatewayFixture(t, {
  captureLogs: true,
  configure: (raw) => {
    raw.admin = { token: ADMIN_TOKEN };
    Object.assign(raw.tiers, {
      'one-rpm': { rpm: 1 },
      'one-rpd': { rpd: 1 },
      tiny: { tpm: 10 },
      'tiny-day': { tpd: 10 },
    });
    raw.keys.push(
      { name: 'rpm', key: keys.rpm, tier: 'one-rpm' },
      { name: 'rpd', key: keys.rpd, tier: 'one-rpd' },
      { name: 'tpm', key: keys.tpm, tier: 'tiny' },
      { name: 'tpd', key: keys.tpd, tier: 'tiny-day' },
      { name: 'budget', key: keys.budget, tier: 'tier-5', budgetUsd: 0 },
      { name: 'expired', key: keys.expired, tier: 'tier-5', expiresAt: '2020-01-01' },
    );
  },
});

const messages = [{ role: 'user' as const, content: 'hi' }];

/** A chat request with `key` (none when undefined). */
async function send(key: string | undefined, model = ALIAS): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model, messages, max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res;
}

/** A refused chat request: its status and its log line (the gateway's own x-request-id is the line's reqId). */
async function chat(key: string | undefined, model = ALIAS): Promise<{ status: number; line: LogEntry }> {
  const res = await send(key, model);
  const id = res.headers.get('x-request-id');
  const line = await gw.logs.waitFor((e) => e.msg === 'request completed' && e.reqId === id);
  return { status: res.status, line };
}

t.test('a 429 names the rate-limit dimension that refused it', async (t) => {
  t.equal((await send(keys.rpm)).status, 200, 'the one request a minute');
  t.equal((await send(keys.rpd)).status, 200, 'the one request a day');
  for (const [dimension, key] of [
    ['rpm', keys.rpm],
    ['rpd', keys.rpd],
    ['tpm', keys.tpm], // the prompt and its output cap exceed 10 tokens at once
    ['tpd', keys.tpd],
  ] as const) {
    const { status, line } = await chat(key);
    t.equal(status, 429, `${dimension}: refused`);
    t.match(
      line,
      { status: 429, code: 'rate_limit_exceeded', reason: dimension, keyName: dimension, model: ALIAS },
      `${dimension}: the line says why, for which key and model`,
    );
  }
});

t.test('a spent budget is reason budget', async (t) => {
  const { status, line } = await chat(keys.budget);
  t.equal(status, 429);
  t.match(line, { status: 429, code: 'insufficient_quota', reason: 'budget', keyName: 'budget' });
});

t.test('an unknown model is reason model, on the proxied API and on /v1/models/:id', async (t) => {
  const { status, line } = await chat(gw.key, 'no-such-model');
  t.equal(status, 404);
  t.match(line, { status: 404, code: 'model_not_found', reason: 'model', model: 'no-such-model' });

  const res = await fetch(`${gw.url}/v1/models/no-such-model`, { headers: { authorization: `Bearer ${gw.key}` } });
  await res.arrayBuffer();
  const id = res.headers.get('x-request-id');
  const modelLine = await gw.logs.waitFor((e) => e.msg === 'request completed' && e.reqId === id);
  t.match(modelLine, { status: 404, code: 'model_not_found', reason: 'model' });
});

t.test('a missing, unknown, revoked or expired key is reason key', async (t) => {
  const admin = adminApi(gw.url);
  const created = await admin.createKey({ name: 'revoked', tier: 'tier-5' });
  t.equal((await admin.call('DELETE', `/keys/${created.id}`)).status, 200, 'revoked over the admin API');
  for (const [label, key] of [
    ['missing', undefined],
    ['unknown', randomKey('unknown')],
    ['revoked', created.key],
    ['expired', keys.expired],
  ] as const) {
    const { status, line } = await chat(key);
    t.equal(status, 401, `${label}: refused`);
    t.match(line, { status: 401, code: 'invalid_api_key', reason: 'key' }, `${label}: the line says key`);
  }
  const text = gw.logs.lines.join('');
  for (const secret of [created.key, keys.expired, ...Object.values(keys), gw.key, ADMIN_TOKEN]) {
    t.notOk(text.includes(secret), `no "${secret.slice(0, 12)}…" in the logs`);
  }
});

t.test('a request that is not refused has no reason', async (t) => {
  const res = await fetch(`${gw.url}/healthz`);
  await res.arrayBuffer();
  const id = res.headers.get('x-request-id');
  const line = await gw.logs.waitFor((e) => e.msg === 'request completed' && e.reqId === id);
  t.equal(line.status, 200);
  t.notOk('reason' in line, 'no reason');
  t.notOk('code' in line, 'no error code');
});
