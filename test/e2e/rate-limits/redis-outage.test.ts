// Redis killed mid-run: failMode open keeps serving on per-instance limits, failMode
// closed answers an OpenAI-shaped 503 at once; after a restart the limits live in Redis again.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { assertEnvelope, limitedGateway, redisSection, type Limited } from '../../helpers/rate-limit-harness.js';

/**
 * "At once", without a clock: the limiter's connection waits up to this long for a command, so a
 * request that waited on the dead Redis would not be answered within this test's run at all (tap
 * ends a file after 60 s). An answer shows the client refused the command instead of waiting.
 */
const COMMAND_TIMEOUT_MS = 600_000;
/** How long a test waits for something that must happen before it calls it a hang. */
const HANG_MS = 20_000;

/** A gateway with tier rpm 3 (tpm too, so answers settle tokens) on its own killable redis-server. */
async function setup(t: Test, failMode: 'open' | 'closed'): Promise<{ server: RedisServer; limited: Limited }> {
  const server = await startRedis({ spawn: true });
  t.teardown(() => server.stop());
  const limited = await limitedGateway(t, { name: 'redis', redisUrl: server.url }, {
    tier: { rpm: 3, tpm: 100_000 },
    configure: (raw) => (raw.redis = redisSection(server.url, { failMode, commandTimeoutMs: COMMAND_TIMEOUT_MS })),
  });
  return { server, limited };
}

/** The answer, or 'no answer' if none came within HANG_MS. */
function answered<T>(work: Promise<T>): Promise<T | 'no answer'> {
  return Promise.race([work, sleep(HANG_MS, 'no answer' as const, { ref: false })]);
}

/** The gateway's limiter connection is back (it reconnects with backoff of at most 2 s). */
async function reconnected(limited: Limited): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (limited.gw.app.redis!.commands.status !== 'ready') {
    if (performance.now() > deadline) throw new Error('the gateway did not reconnect to Redis within 10 s');
    await sleep(50);
  }
}

/** After a restart Redis is empty: exactly rpm 3 requests pass, and the buckets are stored in Redis. */
async function enforcedViaRedis(t: Test, server: RedisServer, limited: Limited): Promise<void> {
  for (let i = 1; i <= 3; i++) t.equal((await limited.chat()).status, 200, `after restart: request ${i} of 3 passes`);
  t.equal((await limited.chat()).status, 429, 'after restart: request 4 gets 429');
  const probe = new Redis(server.url);
  t.teardown(() => probe.quit());
  const buckets = await probe.keys(`${limited.gw.config.redis.keyPrefix}rl:*`);
  t.ok(buckets.length > 0, `the buckets are in Redis again (${buckets.join(', ')})`);
}

t.test('failMode open: serving continues while Redis is down', async (t) => {
  const { server, limited } = await setup(t, 'open');
  t.equal((await limited.chat()).status, 200, 'request 1 passes on Redis');
  await server.kill();
  for (let i = 2; i <= 3; i++) {
    const value = await answered(limited.chat());
    t.equal(value === 'no answer' ? value : value.status, 200, `request ${i} passes with Redis down`);
    t.not(
      value,
      'no answer',
      `and promptly: answered, though a command could wait ${COMMAND_TIMEOUT_MS / 60_000} minutes`,
    );
  }
  // The in-memory fallback has counted 2 of 3: if it still answered, only one more would pass.
  await server.restart();
  await reconnected(limited);
  await enforcedViaRedis(t, server, limited);
});

t.test('failMode closed: an OpenAI-shaped 503 at once while Redis is down', async (t) => {
  const { server, limited } = await setup(t, 'closed');
  limited.mock.behave({ kind: 'slow', chunkDelayMs: 100 });
  const inFlight = limited.chat({ stream: true }); // admitted on Redis, settled after Redis is gone
  while (limited.mock.requests.length === 0) await sleep(10); // admitted: it has reached the upstream
  await server.kill();
  const stream = await inFlight;
  t.equal(stream.status, 200, 'request 1, a stream admitted before the kill, is served');
  t.match(stream.text, /\[DONE\]/, 'to its end');
  const logged = await limited.gw.logs.waitFor((e) => e.msg === 'rate-limit settlement failed');
  t.equal(logged.level, 40, 'its settlement failure is logged as a warning, not thrown');
  limited.mock.behave({ kind: 'ok' });
  for (let i = 2; i <= 4; i++) {
    const value = await answered(limited.chat());
    t.equal(value === 'no answer' ? value : value.status, 503, `request ${i} gets 503`);
    assertEnvelope(
      t,
      value === 'no answer' ? undefined : value.body,
      { type: 'server_error', code: 'limiter_unavailable', param: null },
      `request ${i}`,
    );
    t.not(
      value,
      'no answer',
      `without hanging: answered, though a command could wait ${COMMAND_TIMEOUT_MS / 60_000} minutes`,
    );
  }
  t.equal(limited.mock.requests.length, 1, 'nothing was sent upstream while limits could not be checked');
  await server.restart();
  await reconnected(limited);
  await enforcedViaRedis(t, server, limited);
});

// Regression: the usage flush on close used to wait for Redis to come back, so a gateway stopped
// during an outage never exited. The flush is now bounded and the connections are cut.
t.test('shutting down while Redis is down does not hang', async (t) => {
  const { server, limited } = await setup(t, 'open');
  await server.kill();
  t.equal((await limited.chat()).status, 200, 'a request is served (its usage write now waits for Redis)');
  const closing = limited.gw.close();
  const outcome = await Promise.race([closing.then(() => 'closed'), sleep(HANG_MS, 'still closing', { ref: false })]);
  t.equal(outcome, 'closed', 'the gateway closes while Redis is still down');
  await closing;
  // What ends the wait: the flush gives up on Redis (a bounded wait), it does not wait for it to come back.
  t.ok(
    limited.gw.logs.entries().some((e) => /usage writes still pending .* at shutdown/.test(e.msg)),
    'the usage write it could not make is reported lost',
  );
});
