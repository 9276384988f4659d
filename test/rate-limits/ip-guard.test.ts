// The per-IP guard (limits.perIpPerMinute) stops bad-key floods and never limits a valid key.
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startMockUpstream } from '../helpers/mock-upstream.js';
import { assertEnvelope, post } from './harness.js';

const mock = await startMockUpstream();
const gw = await startGateway({ primary: mock, configure: (raw) => (raw.limits = { perIpPerMinute: 5 }) });
t.teardown(async () => {
  await gw.close();
  await mock.close();
});

t.test('invalid keys: 5 get 401, the 6th 429; a valid key is never limited by the guard', async (t) => {
  for (let i = 0; i < 10; i++) t.equal((await post(gw.url, {}, gw.key)).status, 200, `valid key request ${i + 1} is served`);
  for (let i = 1; i <= 5; i++) {
    const answer = await post(gw.url, {}, 'sk-tg-not-a-real-key-000000000000');
    t.equal(answer.status, 401, `invalid key request ${i} is refused with 401`);
  }
  const limited = await post(gw.url, {}, 'sk-tg-not-a-real-key-000000000000');
  t.equal(limited.status, 429, 'the 6th invalid-key request gets 429');
  assertEnvelope(t, limited.body, { type: 'requests', code: 'rate_limit_exceeded', param: null }, 'guard 429');
  t.match(limited.body.error.message, /Too many unauthenticated requests/, 'the message says why');
  t.ok(Number(limited.headers['retry-after']) >= 1, `retry-after in seconds (${limited.headers['retry-after']})`);
  t.equal((await post(gw.url, {}, '')).status, 429, 'a request with no key at all is guarded too');

  for (let i = 0; i < 10; i++) t.equal((await post(gw.url, {}, gw.key)).status, 200, `valid key request ${i + 11} is still served`);
  t.equal(mock.requests.length, 20, 'only the valid-key requests reached the upstream');
});

t.test('the admin API is guarded per address, before its token is checked', async (t) => {
  const adminMock = await startMockUpstream();
  const admin = await startGateway({ primary: adminMock, configure: (raw) => ((raw.limits = { perIpPerMinute: 3 }), (raw.admin = { token: 'admin-token-0123456789abcdef' })) });
  t.teardown(async () => {
    await admin.close();
    await adminMock.close();
  });
  const listKeys = (token: string) => fetch(`${admin.url}/admin/keys`, { headers: { authorization: `Bearer ${token}` } });
  t.equal((await listKeys('admin-token-0123456789abcdef')).status, 200, 'the right token is served');
  for (let i = 2; i <= 3; i++) t.equal((await listKeys('wrong')).status, 401, `guess ${i}: 401`);
  const limited = await listKeys('wrong');
  t.equal(limited.status, 429, 'the 4th admin request from the address gets 429');
  t.match(await limited.json(), { error: { type: 'requests', code: 'rate_limit_exceeded' } }, 'OpenAI-shaped');
  t.equal((await post(admin.url, {}, admin.key)).status, 200, 'a valid /v1 key is still served from that address');
});
