// A Redis that stalls (SIGSTOP: connections stay open, commands time out, then run when it wakes) in
// front of gateway instances sharing it, failMode open: each instance answers from its share of the
// state Redis last told it, so the fleet never admits more than the limit, and every admission
// answered from memory is counted in tollgate_redis_errors_total{component="limits"}.
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { randomKey, startGateway, type Gateway } from '../../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { post, redisSection, type Answer } from '../../helpers/rate-limit-harness.js';

const RPD = 100;
const COMMAND_TIMEOUT_MS = 200;

interface Fleet {
  server: RedisServer;
  mock: MockUpstream;
  key: string;
  instances: Gateway[];
}

/** `count` gateways on one key prefix of their own redis-server, the key on tier rpd 100. */
async function fleet(t: Test, count: number): Promise<Fleet> {
  const server = await startRedis({ spawn: true }); // paused by the test
  const mock = await startMockUpstream();
  const key = randomKey('stall');
  const section = redisSection(server.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
  const instances: Gateway[] = [];
  for (let i = 0; i < count; i++) {
    const gw = await startGateway({
      primary: mock,
      captureLogs: true,
      configure: (raw) => {
        raw.redis = section;
        raw.tiers.limited = { rpd: RPD };
        raw.keys = [{ name: 'stall', key, tier: 'limited' }];
      },
    });
    instances.push(gw);
  }
  t.teardown(async () => {
    server.resume();
    await Promise.all(instances.map((gw) => gw.close()));
    await mock.close();
    await server.stop();
  });
  // Each instance has heard the fleet's size from Redis (heartbeats every second) before anything stalls.
  const sized = (gw: Gateway) =>
    gw.logs.waitFor((e) => e.instances === count && /live gateway instances/.test(e.msg), 10_000);
  await Promise.all(instances.map(sized));
  return { server, mock, key, instances };
}

/** tollgate_redis_errors_total{component="limits"} as the gateway's /metrics shows it (0 when absent). */
async function limitsErrors(gw: Gateway): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const match = /^tollgate_redis_errors_total\{component="limits"\} (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** `workers` clients per instance, each sending `each` requests one after another; answers by instance. */
async function load(f: Fleet, workers: number, each: number): Promise<Answer[][]> {
  return Promise.all(
    f.instances.map(async (gw) => {
      const answers: Answer[] = [];
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let i = 0; i < each; i++) answers.push(await post(gw.url, {}, f.key));
        }),
      );
      return answers;
    }),
  );
}

const passed = (answers: Answer[]) => answers.filter((a) => a.status === 200).length;

t.test('a stalled Redis never lets two instances admit more than rpd 100 (was 155: a full bucket each)', async (t) => {
  const f = await fleet(t, 2);
  const before: Answer[] = [];
  for (let i = 0; i < 95; i++) before.push(await post(f.instances[i % 2]!.url, {}, f.key));
  t.equal(passed(before), 95, '95 requests pass through Redis, alternating instances');

  f.server.pause();
  const during = await load(f, 3, 10); // 30 per instance, every one answered while Redis is stalled
  f.server.resume();
  const admittedDuring = passed(during.flat());
  t.ok(admittedDuring <= 5, `during the stall the fleet admits ${admittedDuring} of the 5 Redis had left`);
  t.ok(
    during.every((answers) => answers.some((a) => a.status === 429)),
    'both instances refused requests from memory during the stall',
  );

  const probe = new Redis(f.server.url);
  t.teardown(() => probe.quit());
  await probe.ping(); // awake: the scripts that timed out during the stall have run
  const after = await load(f, 1, 10);
  t.equal(passed(after.flat()), 0, 'after the stall Redis is authoritative again: it ran the stalled requests too');
  const total = passed(before) + admittedDuring + passed(after.flat());
  t.ok(total <= RPD, `${total} admitted in all across both instances, of rpd ${RPD}`);
  t.equal(f.mock.requests.length, total, 'and only those reached the upstream');
});

t.test('every admission answered from memory is counted in tollgate_redis_errors_total (was 2 of 4,489)', async (t) => {
  const f = await fleet(t, 2);
  t.same(await Promise.all(f.instances.map(limitsErrors)), [0, 0], 'nothing counted while Redis answers');
  await post(f.instances[0]!.url, {}, f.key);
  f.server.pause();
  const during = await load(f, 4, 6); // 24 per instance, concurrent and within one notice interval
  f.server.resume();
  const counted = await Promise.all(f.instances.map(limitsErrors));
  const fallbacks = during.map((answers) => answers.length);
  t.same(counted, fallbacks, `each instance counts all ${fallbacks[0]} of its fallbacks`);
  const notices = f.instances.map((gw) => gw.logs.entries().filter((e) => /^redis unavailable/.test(e.msg)).length);
  t.same(notices, [1, 1], 'while the warning is logged once per instance');
});
