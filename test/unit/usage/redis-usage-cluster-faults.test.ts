// Usage totals on a Redis Cluster stay exact through the two topology changes a cluster lives with: a
// primary failing over to its replica (CLUSTER FAILOVER) and a slot resharded to another primary (MIGRATE,
// then MOVED), each while batches are being written. docs/cluster.md §2 discusses what may be lost.
import t, { type Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { RedisUsageStore, WRITES_CLUSTER_OPTIONS } from '../../../src/usage/redis-usage-store.js';
import type { UsageEvent } from '../../../src/usage/usage-store.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());

const KEY_IDS = Array.from({ length: 60 }, (_, i) => `key_${i}`);
const EVENTS_PER_TURN = 10;
/** Turns of load before the fault starts, and at least as many after it is over. */
const TURNS_AROUND_FAULT = 30;
const COST_USD = 0.000285;
const at = new Date();
const day = at.toISOString().slice(0, 10);
let prefixes = 0;

const usage = { promptTokens: 10, cachedTokens: 0, completionTokens: 5, reasoningTokens: 0, totalTokens: 15 };
const event = (keyId: string): UsageEvent => ({
  keyId,
  model: 'gpt-nano',
  at,
  usage: { ...usage, estimated: false },
  costUsd: COST_USD,
});

/** A store on a writes connection made as the gateway makes it, and the errors it reports. */
function clusterStore(t: Test) {
  const redis = new Cluster(cluster.nodes, {
    ...WRITES_CLUSTER_OPTIONS,
    redisOptions: { maxRetriesPerRequest: null },
  });
  redis.on('error', () => {}); // the failover's closed connections; what matters is what onError sees
  redis.on('node error', () => {});
  t.teardown(() => redis.quit());
  const errors: unknown[] = [];
  const store = new RedisUsageStore(redis, {
    keyPrefix: `faults:${process.pid}:${++prefixes}:`,
    retentionDays: 400,
    batchWindowMs: 0, // a batch per turn: as many calls in flight as the fault can catch
    onError: (err) => errors.push(err),
  });
  return { store, errors };
}

/**
 * Records EVENTS_PER_TURN events a turn over KEY_IDS (every key in every few turns), starts `fault` after
 * some turns and keeps recording until it is over and some more turns went by. Returns what was recorded
 * per key.
 */
async function recordAround(store: RedisUsageStore, fault: () => Promise<void>): Promise<Map<string, number>> {
  const recorded = new Map<string, number>();
  let faultDone: Promise<void> | undefined;
  let over = false;
  for (let turn = 0, after = 0; !over || after < TURNS_AROUND_FAULT; turn++) {
    for (let i = 0; i < EVENTS_PER_TURN; i++) {
      const keyId = KEY_IDS[(turn * EVENTS_PER_TURN + i) % KEY_IDS.length]!;
      store.record(event(keyId));
      recorded.set(keyId, (recorded.get(keyId) ?? 0) + 1);
    }
    if (turn === TURNS_AROUND_FAULT) faultDone = fault().then(() => void (over = true));
    if (over) after += 1;
    await sleep(1);
  }
  await faultDone;
  await store.flush();
  return recorded;
}

/** Every key's requests, hourly requests and spend equal what was recorded: nothing lost, nothing doubled. */
async function assertExact(t: Test, store: RedisUsageStore, recorded: Map<string, number>): Promise<void> {
  const total = [...recorded.values()].reduce((sum, n) => sum + n, 0);
  const rows = await store.query({ from: day, to: day, groupBy: ['key'] });
  const counted = new Map(rows.map((row) => [row.keyId!, row.requests]));
  t.same(counted, recorded, `each key's requests, ${total} events over ${recorded.size} keys`);
  const hourly = await store.query({ from: day, to: day, groupBy: ['hour'] });
  t.equal(hourly.reduce((sum, row) => sum + row.requests, 0), total, 'the hourly cells too');
  const month = day.slice(0, 7);
  const spend = await Promise.all([...recorded].map(async ([keyId, n]) => [
    Math.round((await store.monthlySpendUsd(keyId, month)) * 1e9),
    Math.round(n * COST_USD * 1e9),
  ]));
  t.ok(spend.every(([got, want]) => got === want), 'and every spend counter');
}

t.test('usage totals stay exact through CLUSTER FAILOVER of a primary mid-load', async (t) => {
  const { store, errors } = clusterStore(t);
  const port = await cluster.primaryFor('{key_0}');
  const redirected = await cluster.rejectedScriptCalls();
  const recorded = await recordAround(store, () => cluster.failover(port));
  const caught = (await cluster.rejectedScriptCalls()) - redirected;
  t.comment(`script calls redirected or retried by ioredis meanwhile: ${caught}`);
  t.not(await cluster.primaryFor('{key_0}'), port, 'the replica took over the slot');
  t.same(errors, [], 'no write failed');
  await assertExact(t, store, recorded);
});

t.test('usage totals stay exact through resharding a slot (MIGRATE, MOVED) mid-load', async (t) => {
  const { store, errors } = clusterStore(t);
  const from = await cluster.primaryFor('{key_1}');
  let to = from;
  for (let i = 2; to === from; i++) to = await cluster.primaryFor(`{${KEY_IDS[i % KEY_IDS.length]}}`);
  const slot = calculateSlot('{key_1}');
  const redirected = await cluster.rejectedScriptCalls();
  const recorded = await recordAround(store, () => cluster.moveSlot(slot, to));
  const caught = (await cluster.rejectedScriptCalls()) - redirected;
  t.comment(`script calls redirected or retried by ioredis meanwhile: ${caught}`);
  t.equal(await cluster.primaryFor('{key_1}'), to, 'the slot moved');
  t.same(errors, [], 'no write failed');
  await assertExact(t, store, recorded);
});
