/**
 * After a 429: the bucket refills as announced (a request after retry-after-ms passes), the official
 * SDK's default retries wait that long and then succeed; and a provider account's own limits send
 * requests to the next route instead of tripping the upstream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import OpenAI from 'openai';
import { ALIAS } from '../../helpers/gateway.js';
import {
  assertEnvelope,
  exhaust,
  limitedGateway,
  messages,
  num,
  type Backend,
} from '../../helpers/rate-limit-harness.js';

export function recoverySuite(t: Test, backend: Backend): void {
  t.test('a request after the retry-after-ms wait succeeds again', async (t) => {
    // GCRA lets the whole minute's 60 through at once, then one per second.
    const limited = await limitedGateway(t, backend, { tier: { rpm: 60 } });
    const { passed, refusal } = await exhaust(limited, 70);
    t.ok(passed >= 60, `the burst allowance is the limit (${passed} passed)`);
    t.equal(refusal.status, 429, 'then 429');
    const waitMs = num(refusal.headers, 'retry-after-ms');
    t.ok(waitMs >= 1 && waitMs <= 1_000, `retry-after-ms is at most one interval (${waitMs})`);
    await sleep(waitMs + 5); // Redis' clock may run a hair ahead of Node's timers
    const again = await limited.chat();
    t.equal(again.status, 200, 'the request after the wait is served');
  });

  t.test('the SDK with default retries waits retry-after-ms and succeeds', async (t) => {
    const limited = await limitedGateway(t, backend, { tier: { rpm: 30 } }); // one request per 2 s
    const attempts: { at: number; status: number; retryAfterMs: number }[] = [];
    const sdk = new OpenAI({
      apiKey: limited.gw.key,
      baseURL: `${limited.gw.url}/v1`, // maxRetries left at its default (2)
      fetch: async (url, init) => {
        const at = performance.now();
        const res = await fetch(url, init);
        attempts.push({ at, status: res.status, retryAfterMs: num(res.headers, 'retry-after-ms') });
        return res;
      },
    });
    await exhaust(limited, 40);
    const completion = await sdk.chat.completions.create({ model: ALIAS, messages });
    t.ok(completion.choices[0]?.message.content, 'the call succeeds');
    const [first, ...rest] = attempts;
    t.equal(first?.status, 429, 'its first attempt was refused');
    t.equal(rest.at(-1)?.status, 200, 'a retry was served');
    const announced = first!.retryAfterMs;
    t.ok(announced > 500 && announced <= 2_000, `the 429 announced a wait of ${announced} ms`);
    t.ok(
      rest[0]!.at - first!.at >= announced - 50,
      `the SDK waited before retrying (${Math.round(rest[0]!.at - first!.at)} ms)`,
    );
    // A retry sent before the bucket refilled would be refused again: one wait that long was enough.
    t.same(attempts.map((a) => a.status), [429, 200], 'the call took about the announced wait: one wait, then served');
  });

  t.test('a provider account at its rpm sends the request to the next route', async (t) => {
    const limited = await limitedGateway(t, backend, {
      tier: { rpm: 100 },
      withSecondary: true,
      configure: (raw) => (raw.providers.primary!.limits = { rpm: 2 }),
    });
    for (let i = 1; i <= 3; i++) t.equal((await limited.chat()).status, 200, `request ${i} is served`);
    t.equal(limited.mock.requests.length, 2, 'the primary answered its rpm of 2');
    t.equal(limited.secondary!.requests.length, 1, 'the secondary answered the third');
  });

  t.test(
    'provider accounts out of room on every route: a 429 with their wait, and the key keeps its request',
    async (t) => {
      // The key may make 3 requests a minute, the only provider account 2: requests 3 and 4 are the
      // provider's to refuse.
      const limited = await limitedGateway(t, backend, {
        tier: { rpm: 3 },
        configure: (raw) => (raw.providers.primary!.limits = { rpm: 2 }),
      });
      for (let i = 1; i <= 2; i++) t.equal((await limited.chat()).status, 200, `request ${i} is served`);
      for (const n of [3, 4]) {
        const refused = await limited.chat();
        t.equal(refused.status, 429, `request ${n} is refused with 429`);
        assertEnvelope(
          t,
          refused.body,
          { type: 'requests', code: 'rate_limit_exceeded', param: null },
          `request ${n}`,
        );
        t.match(
          refused.body?.error?.message,
          /upstream capacity shared by all keys.*Limit 2, Used 2, Requested 1\. Please try again in/,
          'the message names the shared upstream limit',
        );
        const waitMs = num(refused.headers, 'retry-after-ms');
        t.ok(
          waitMs > 25_000 && waitMs <= 30_000,
          `retry-after-ms is the provider's wait, one interval of 30 s (${waitMs})`,
        );
        t.equal(num(refused.headers, 'retry-after'), Math.ceil(waitMs / 1_000), 'retry-after in whole seconds');
      }
      // Without the refunds, request 4 would have been the key's 4th of 3 and refused by the key's own limit.
      t.equal(limited.mock.requests.length, 2, 'nothing more reached the upstream');
    },
  );

  t.test('with several routes out of room, the refusal that ends soonest answers', async (t) => {
    const limited = await limitedGateway(t, backend, {
      tier: { rpm: 100 },
      withSecondary: true,
      configure: (raw) => {
        raw.providers.primary!.limits = { rpm: 1 }; // one request a minute: a 60 s wait
        raw.providers.secondary!.limits = { rpm: 6 }; // one every 10 s
      },
    });
    t.equal((await limited.chat()).status, 200, 'request 1 on the primary');
    for (let i = 2; i <= 7; i++) t.equal((await limited.chat()).status, 200, `request ${i} on the secondary`);
    const refused = await limited.chat();
    t.equal(refused.status, 429, 'then both are out of room');
    const waitMs = num(refused.headers, 'retry-after-ms');
    t.ok(waitMs > 5_000 && waitMs <= 10_000, `the secondary's wait answers, not the primary's (${waitMs} ms)`);
  });
}
