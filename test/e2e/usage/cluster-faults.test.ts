// Usage totals through real gateways on a Redis Cluster stay exact while the cluster changes under load:
// a primary failing over to its replica (CLUSTER FAILOVER) and a slot resharded to another primary
// (MIGRATE, then MOVED). The store-level proof is test/unit/usage/redis-usage-cluster-faults.test.ts;
// this one goes through the clients the plugins wire (plugins/redis.ts) and the admin API, with two
// gateways and keys whose usage cells live on every primary.
import t, { type Test } from 'tap';
import { APIError } from 'openai';
import calculateSlot from 'cluster-key-slot';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import {
  ADMIN_TOKEN,
  adminApi,
  expectedCostUsd,
  flushUsage,
  sumRows,
  utcDay,
  type TokenCounts,
} from '../../helpers/admin-http.js';
import { ALIAS, randomKey, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { messages, proxiedSettled, twoGatewaysOnRedis } from '../../helpers/rate-limit-harness.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

const cluster = await startRedisCluster();
const mock = await startMockUpstream();
t.teardown(async () => {
  await mock.close();
  await cluster.stop();
});

/** Waves of concurrent requests: before the fault starts, while it runs, and after it is over. */
const WAVES = { before: 3, during: 6, after: 3 };
const PER_WAVE = 40;
const REQUESTS = (WAVES.before + WAVES.during + WAVES.after) * PER_WAVE;
/** Generous: a failover's redirected writes are retried for up to a minute (WRITES_CLUSTER_OPTIONS). */
const SETTLE_TIMEOUT_MS = 30_000;
/** What the mock reports for every default chat answer. */
const MOCK_USAGE: TokenCounts = {
  promptTokens: DEFAULT_PROMPT_TOKENS,
  cachedTokens: 0,
  completionTokens: wordChunks(DEFAULT_TEXT).length,
  reasoningTokens: 0,
};

interface TestKey {
  key: string;
  keyId: string;
  /** The `{keyId}` hash tag all of the key's usage cells and its spend counter share. */
  usageTag: string;
}

interface Outcome {
  keyId: string;
  gateway: number;
  /** HTTP status, or 0 when no answer came. */
  status: number;
  usage?: TokenCounts;
}

function testKey(label: string): TestKey {
  const key = randomKey(label);
  const keyId = staticKeyId(hashKey(key));
  return { key, keyId, usageTag: `{${keyId}}` };
}

/** One fresh key per primary, so the load writes to every node whatever the fault moves. */
async function keysOnEachPrimary(): Promise<TestKey[]> {
  const byPrimary = new Map<number, TestKey>();
  while (byPrimary.size < cluster.nodes.length) {
    const candidate = testKey(`p${byPrimary.size}`);
    const port = await cluster.primaryFor(candidate.usageTag);
    if (!byPrimary.has(port)) byPrimary.set(port, candidate);
  }
  return [...byPrimary.values()];
}

/** Two gateways on the cluster (one key prefix: shared usage), admin API on, failMode open. */
async function gatewaysFor(t: Test, keys: TestKey[]): Promise<Gateway[]> {
  const { instances } = await twoGatewaysOnRedis(
    cluster.nodes,
    mock,
    (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      raw.keys = keys.map(({ key }, i) => ({ name: `k${i}`, key, tier: 'tier-5' }));
    },
    { captureLogs: true },
  );
  t.teardown(() => Promise.all(instances.map((gw) => gw.close())));
  return instances;
}

/** One chat call through the official SDK; a refusal or a failed connection is an outcome, not a throw. */
async function send(gateways: Gateway[], key: TestKey, gateway: number): Promise<Outcome> {
  const outcome = { keyId: key.keyId, gateway };
  try {
    const { usage } = await gateways[gateway]!.client(key.key).chat.completions.create({ model: ALIAS, messages });
    return {
      ...outcome,
      status: 200,
      usage: {
        promptTokens: usage?.prompt_tokens ?? NaN,
        cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? NaN,
        completionTokens: usage?.completion_tokens ?? NaN,
        reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? NaN,
      },
    };
  } catch (err) {
    return { ...outcome, status: err instanceof APIError ? (err.status ?? 0) : 0 };
  }
}

/** `count` waves of PER_WAVE concurrent requests, spread over the keys and both gateways. */
async function waves(gateways: Gateway[], keys: TestKey[], count: number, into: Outcome[]): Promise<void> {
  for (let wave = 0; wave < count; wave++) {
    const sent = Array.from({ length: PER_WAVE }, (_, i) => send(gateways, keys[i % keys.length]!, i % 2));
    into.push(...(await Promise.all(sent)));
  }
}

/**
 * A fixed number of requests, the fault started after the first waves and awaited before the last ones.
 * How much of the load the fault caught depends on the machine, so it is reported, not asserted.
 */
async function loadAround(
  t: Test,
  gateways: Gateway[],
  keys: TestKey[],
  fault: () => Promise<void>,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  await waves(gateways, keys, WAVES.before, outcomes);
  const rejectedBefore = await cluster.rejectedScriptCalls();
  const answeredBefore = outcomes.length;
  let answeredDuring = 0;
  const faultOver = fault().then(() => void (answeredDuring = outcomes.length - answeredBefore));
  await waves(gateways, keys, WAVES.during, outcomes);
  await faultOver;
  await waves(gateways, keys, WAVES.after, outcomes);
  const rejected = (await cluster.rejectedScriptCalls()) - rejectedBefore;
  t.comment(`answered while the fault ran: ${answeredDuring}; script calls refused by a node and resent: ${rejected}`);
  return outcomes;
}

/** Waits until each gateway logged its 200s as settled (usage recorded), then for their usage writes. */
async function settle(gateways: Gateway[], outcomes: Outcome[]): Promise<void> {
  const served = (gateway: number) => outcomes.filter((o) => o.gateway === gateway && o.status === 200).length;
  await Promise.all(gateways.map((gw, i) => proxiedSettled(gw, served(i), SETTLE_TIMEOUT_MS)));
  await flushUsage(...gateways);
}

/** Each key's usage as both gateways read it equals exactly its 200s times the mock's usage. */
async function assertExactUsage(t: Test, gateways: Gateway[], keys: TestKey[], outcomes: Outcome[]): Promise<void> {
  const ok = outcomes.filter((o) => o.status === 200);
  t.same(ok.map((o) => o.usage), ok.map(() => MOCK_USAGE), 'every 200 carried the mock usage');
  for (const key of keys) {
    const { keyId } = key;
    const served = ok.filter((o) => o.keyId === keyId).length;
    const expected = { requests: served, ...scaled(MOCK_USAGE, served), estimatedRequests: 0 };
    for (const [i, gw] of gateways.entries()) {
      const row = sumRows(await adminApi(gw.url).usage({ keyId, groupBy: 'day' }).catch((err) => {
        for (const g of gateways) console.error(g.logs.lines.filter((l) => /"level":(4|5)0|navailable/.test(l)).join('\n'));
        throw err;
      }));
      t.match(row, expected, `${keyId} read via gateway ${i}: ${served} requests and their tokens`);
    }
    const spent = await spentUsd(gateways[0]!, key);
    const cost = served * expectedCostUsd(MOCK_USAGE);
    t.ok(Math.abs(spent - cost) < 1e-9, `${keyId}: spend counter ${spent} is ${served} requests' cost ${cost}`);
  }
}

function scaled(usage: TokenCounts, times: number): TokenCounts {
  return {
    promptTokens: usage.promptTokens * times,
    cachedTokens: usage.cachedTokens * times,
    completionTokens: usage.completionTokens * times,
    reasoningTokens: usage.reasoningTokens * times,
  };
}

/**
 * The key's spend counter as the gateway's store reads it. Not GET /v1/me: its spend comes from the
 * budget check's cache (read at most once a second, plus this instance's own spending since).
 */
function spentUsd(gw: Gateway, key: TestKey): Promise<number> {
  return gw.app.usage.store.monthlySpendUsd(key.keyId, utcDay().slice(0, 7));
}

/** Counts, then the checks common to both faults: every request served, none lost or doubled, no write failed. */
async function assertLoadAccounted(
  t: Test,
  gateways: Gateway[],
  keys: TestKey[],
  outcomes: Outcome[],
): Promise<void> {
  const ok = outcomes.filter((o) => o.status === 200).length;
  const statuses = outcomes.filter((o) => o.status !== 200).map((o) => o.status);
  t.comment(`${outcomes.length} requests: ${ok} answered 200, ${statuses.length} not (${statuses.join(', ')})`);
  t.equal(outcomes.length, REQUESTS, `${REQUESTS} requests sent`);
  // failMode open: the limiter and the budget check answer in process while a slot has no reachable primary.
  t.same(statuses, [], 'failMode open: every request answered 200 through the fault');
  t.equal(mock.requests.length, ok, 'the upstream saw exactly the 200s');
  await settle(gateways, outcomes);
  const failedWrites = gateways.flatMap((gw) => gw.logs.entries().filter((e) => e.msg === 'usage write failed'));
  t.same(failedWrites, [], 'no usage write failed');
  await assertExactUsage(t, gateways, keys, outcomes);
}

t.beforeEach(() => mock.reset());

t.test('usage totals stay exact through CLUSTER FAILOVER of a primary mid-load', async (t) => {
  const keys = await keysOnEachPrimary();
  const gateways = await gatewaysFor(t, keys);
  const port = await cluster.primaryFor(keys[0]!.usageTag);
  const outcomes = await loadAround(t, gateways, keys, () => cluster.failover(port));
  t.not(await cluster.primaryFor(keys[0]!.usageTag), port, "the replica took over the key's slot");
  await assertLoadAccounted(t, gateways, keys, outcomes);
});

t.test('usage totals stay exact through resharding a slot (MIGRATE, MOVED) mid-load', async (t) => {
  const keys = await keysOnEachPrimary();
  const gateways = await gatewaysFor(t, keys);
  const [moved, , destination] = keys as [TestKey, TestKey, TestKey];
  const to = await cluster.primaryFor(destination.usageTag);
  const outcomes = await loadAround(t, gateways, keys, () => cluster.moveSlot(calculateSlot(moved.usageTag), to));
  t.equal(await cluster.primaryFor(moved.usageTag), to, "the key's slot moved, with its cells");
  await assertLoadAccounted(t, gateways, keys, outcomes);
});
