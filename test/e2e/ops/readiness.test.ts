// /readyz in words: each dependency's state under `checks` ("ok", or what is wrong and since when), and on
// a 503 one `reason`. A Redis that is stopped, then back, then stalled, as an operator would meet them.
import t from 'tap';
import { poll } from '../../helpers/admin-http.js';
import { startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

const mock = await startMockUpstream();
t.teardown(() => mock.close());

const ISO_SECOND = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`;

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

t.test('without Redis: ready, and it says the stores are in memory', async (t) => {
  const gw = await startGateway({ primary: mock });
  t.teardown(() => gw.close());
  t.same(await readyz(gw.url), {
    status: 200,
    body: { status: 'ready', checks: { redis: 'not configured (in-memory stores)' } },
  });
});

t.test('Redis stopped, restarted, then stalled: each said in words', async (t) => {
  const redis = await startRedis({ spawn: true });
  t.teardown(() => redis.stop());
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.redis = { url: redis.url };
    },
  });
  t.teardown(() => gw.close());
  t.same(await readyz(gw.url), { status: 200, body: { status: 'ready', checks: { redis: 'ok' } } }, 'up: ok');

  await redis.stop();
  const refused = new RegExp(`^unreachable since ${ISO_SECOND} \\(connection refused\\)$`);
  // The first answer may still say "connection closed": the refused reconnect comes right after.
  const down = await poll(async () => {
    const answer = await readyz(gw.url);
    return refused.test(String((answer.body.checks as { redis?: string }).redis)) ? answer : undefined;
  });
  t.equal(down.status, 503, 'stopped: 503');
  t.equal(down.body.status, 'unavailable', 'status unavailable, as before');
  t.match(down.body.reason, new RegExp(refused.source.replace('^', '^redis: ')), 'one reason naming redis');
  t.notMatch(JSON.stringify(down.body), /ECONNREFUSED|127\.0\.0\.1|Error/, 'no client-library string');

  await redis.restart();
  const up = await poll(async () => {
    const answer = await readyz(gw.url);
    return answer.status === 200 ? answer : undefined;
  });
  t.same(up.body, { status: 'ready', checks: { redis: 'ok' } }, 'back: ok');

  redis.pause();
  t.teardown(() => redis.resume());
  const stalled = await readyz(gw.url);
  t.equal(stalled.status, 503, 'stalled: 503');
  t.match(
    stalled.body.checks,
    { redis: new RegExp(`^not answering since ${ISO_SECOND} \\(no reply within 500 ms\\)$`) },
    'stalled: not answering, and how long it waited',
  );
  redis.resume();
});
