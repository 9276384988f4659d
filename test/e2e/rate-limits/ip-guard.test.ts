// The per-IP guard (limits.perIpPerMinute) stops bad-key floods and never limits a valid key.
import t, { type Test } from 'tap';
import { startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { assertEnvelope, post } from '../../helpers/rate-limit-harness.js';

const mock = await startMockUpstream();
const gw = await startGateway({ primary: mock, configure: (raw) => (raw.limits = { perIpPerMinute: 5 }) });
t.teardown(async () => {
  await gw.close();
  await mock.close();
});

t.test('invalid keys: 5 get 401, the 6th 429; a valid key is never limited by the guard', async (t) => {
  for (let i = 0; i < 10; i++) {
    t.equal((await post(gw.url, {}, gw.key)).status, 200, `valid key request ${i + 1} is served`);
  }
  for (let i = 1; i <= 5; i++) {
    const answer = await post(gw.url, {}, 'sk-tg-not-a-real-key-000000000000');
    t.equal(answer.status, 401, `invalid key request ${i} is refused with 401`);
  }
  const limited = await post(gw.url, {}, 'sk-tg-not-a-real-key-000000000000');
  t.equal(limited.status, 429, 'the 6th invalid-key request gets 429');
  assertEnvelope(t, limited.body, { type: 'requests', code: 'rate_limit_exceeded', param: null }, 'guard 429');
  t.match(limited.body?.error?.message, /Too many unauthenticated requests/, 'the message says why');
  t.ok(Number(limited.headers['retry-after']) >= 1, `retry-after in seconds (${limited.headers['retry-after']})`);
  t.equal((await post(gw.url, {}, '')).status, 429, 'a request with no key at all is guarded too');

  for (let i = 0; i < 10; i++) {
    t.equal((await post(gw.url, {}, gw.key)).status, 200, `valid key request ${i + 11} is still served`);
  }
  t.equal(mock.requests.length, 20, 'only the valid-key requests reached the upstream');
});

t.test('the admin API is guarded per address, before its token is checked', async (t) => {
  const adminMock = await startMockUpstream();
  const admin = await startGateway({
    primary: adminMock,
    configure: (raw) => {
      raw.limits = { perIpPerMinute: 3 };
      raw.admin = { token: 'admin-token-0123456789abcdef' };
    },
  });
  t.teardown(async () => {
    await admin.close();
    await adminMock.close();
  });
  const listKeys = (token: string) =>
    fetch(`${admin.url}/admin/keys`, { headers: { authorization: `Bearer ${token}` } });
  t.equal((await listKeys('admin-token-0123456789abcdef')).status, 200, 'the right token is served');
  for (let i = 2; i <= 3; i++) t.equal((await listKeys('wrong')).status, 401, `guess ${i}: 401`);
  const limited = await listKeys('wrong');
  t.equal(limited.status, 429, 'the 4th admin request from the address gets 429');
  t.match(await limited.json(), { error: { type: 'requests', code: 'rate_limit_exceeded' } }, 'OpenAI-shaped');
  t.equal((await post(admin.url, {}, admin.key)).status, 200, 'a valid /v1 key is still served from that address');
});

/** Bad-key requests "from" `forwardedFor` until the guard answers 429; the statuses in order. */
async function badKeyStatuses(url: string, forwardedFor: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/v1/models`, {
      headers: { authorization: 'Bearer sk-tg-not-a-real-key-000000000000', 'x-forwarded-for': forwardedFor },
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

async function guardedGateway(t: Test, trustProxy?: unknown) {
  const upstream = await startMockUpstream();
  const gateway = await startGateway({
    primary: upstream,
    configure: (raw) => {
      raw.limits = { perIpPerMinute: 2 };
      if (trustProxy !== undefined) raw.server.trustProxy = trustProxy;
    },
  });
  t.teardown(async () => {
    await gateway.close();
    await upstream.close();
  });
  return gateway;
}

t.test(
  'behind a trusted proxy every client had the proxy address: X-Forwarded-For now gives each its own bucket',
  async (t) => {
    // The test's own connection (127.0.0.1) plays the proxy, as nginx does in the compose `scaled` profile.
    const behindProxy = await guardedGateway(t, 'loopback');
    t.same(
      await badKeyStatuses(behindProxy.url, '203.0.113.7', 3),
      [401, 401, 429],
      'client A exhausts its own bucket',
    );
    t.same(
      await badKeyStatuses(behindProxy.url, '198.51.100.9', 2),
      [401, 401],
      'client B behind the same proxy is not throttled with A',
    );
    // Only addresses the trusted peer vouches for count: a hop A added itself sits left of it.
    t.same(
      await badKeyStatuses(behindProxy.url, '192.0.2.1, 203.0.113.7', 1),
      [429],
      "a prefix A sends is ignored: still A's bucket",
    );
  },
);

t.test(
  'without server.trustProxy (the default) X-Forwarded-For is ignored, so a client cannot pick its bucket',
  async (t) => {
    const direct = await guardedGateway(t);
    t.same(await badKeyStatuses(direct.url, '203.0.113.7', 2), [401, 401], 'two bad keys from the socket address');
    t.same(
      await badKeyStatuses(direct.url, '198.51.100.9', 1),
      [429],
      'a different X-Forwarded-For is the same client: 429',
    );
    t.equal(direct.config.server.trustProxy, false, 'trustProxy is off by default');
  },
);
