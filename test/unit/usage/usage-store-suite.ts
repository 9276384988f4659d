/**
 * The behaviour every UsageStore must have, run against each implementation with its own factory.
 * Times are relative to now (the last millisecond of the previous UTC month and the first of this
 * one) so Redis does not expire them on arrival.
 */
import type { Test } from 'tap';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { costUsd } from '../../../src/usage/cost.js';
import type { UsageEvent, UsageGrouping, UsageRow, UsageStore } from '../../../src/usage/usage-store.js';
import { zeroUsageCounters } from '../../helpers/usage-counters.js';

export type StoreFactory = (options: { retentionDays: number }) => UsageStore | Promise<UsageStore>;

/** gpt-4.1-nano list prices, USD per 1M tokens. */
const NANO = { input: 0.1, cachedInput: 0.025, output: 0.4 };
const now = new Date();
const MONTH_START = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
const LAST_MS = new Date(MONTH_START - 1); // 23:59:59.999Z
const FIRST_MS = new Date(MONTH_START); // 00:00:00.000Z
const DAY1 = LAST_MS.toISOString().slice(0, 10);
const DAY2 = FIRST_MS.toISOString().slice(0, 10);
const [MONTH1, MONTH2] = [DAY1.slice(0, 7), DAY2.slice(0, 7)];

function event(
  keyId: string,
  model: string,
  at: Date,
  prompt: number,
  cached: number,
  completion: number,
  reasoning = 0,
  estimated = false,
): UsageEvent {
  const usage = {
    promptTokens: prompt,
    cachedTokens: cached,
    completionTokens: completion,
    reasoningTokens: reasoning,
    totalTokens: prompt + completion,
    estimated,
  };
  return { keyId, model, at, usage, costUsd: costUsd(usage, NANO) };
}

/** A reference aggregation, written the obvious way, to compare the stores with. */
function expectedRows(events: UsageEvent[], groupBy: UsageGrouping[]): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const e of events) {
    const day = e.at.toISOString().slice(0, 10);
    const dims = {
      ...(groupBy.includes('day') && { day }),
      ...(groupBy.includes('key') && { keyId: e.keyId }),
      ...(groupBy.includes('model') && { model: e.model }),
    };
    const id = [dims.day, dims.keyId, dims.model].join('\0'); // NUL sorts before any character: tuple order
    const row = rows.get(id) ?? { ...dims, ...zeroUsageCounters() };
    rows.set(id, row);
    row.requests += 1;
    row.promptTokens += e.usage.promptTokens;
    row.cachedTokens += e.usage.cachedTokens;
    row.completionTokens += e.usage.completionTokens;
    row.reasoningTokens += e.usage.reasoningTokens;
    row.estimatedRequests += e.usage.estimated ? 1 : 0;
    row.costUsd = Math.round((row.costUsd + e.costUsd) * 1e9) / 1e9; // nano-dollars, as the stores keep them
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
}

/** 2 days × 2 keys × 2 models, every cell with different numbers. */
const FIXTURE = [DAY1, DAY2].flatMap((_, d) =>
  ['key_a', 'key_b'].flatMap((keyId, k) =>
    ['gpt-mini', 'gpt-nano'].flatMap((model, m) =>
      Array.from({ length: 1 + d + 2 * k + 4 * m }, (_, i) =>
        event(keyId, model, d === 0 ? LAST_MS : FIRST_MS, 100 * (i + 1), 10 * i, 50 + i, i, i % 3 === 0),
      ),
    ),
  ),
);

export function usageStoreSuite(t: Test, makeStore: StoreFactory): void {
  const open = async (t: Test, retentionDays = 400, events: UsageEvent[] = []) => {
    const store = await makeStore({ retentionDays });
    t.teardown(() => store.close());
    for (const e of events) store.record(e);
    await store.flush();
    return store;
  };
  const range = { from: DAY1, to: DAY2 };

  t.test('an empty store: one totals row of zeros, no grouped rows, no spend', async (t) => {
    const store = await open(t);
    const zeros = zeroUsageCounters();
    t.same(await store.query(range), [zeros], 'a totals row of zeros');
    t.same(await store.query({ ...range, groupBy: ['day'] }), [], 'no rows when grouped');
    t.equal(await store.monthlySpendUsd('key_a', MONTH2), 0, 'no spend');
  });

  t.test('totals are exact across many events', async (t) => {
    const events = Array.from({ length: 300 }, (_, i) =>
      event(
        `key_${i % 7}`,
        `model-${i % 3}`,
        i % 2 ? LAST_MS : FIRST_MS,
        (i * 37) % 1000,
        (i * 13) % 100,
        (i * 91) % 700,
        (i * 5) % 50,
        i % 11 === 0,
      ),
    );
    const [row] = await (await open(t, 400, events)).query(range);
    const [expected] = expectedRows(events, []);
    t.same({ ...row, costUsd: 0 }, { ...expected, costUsd: 0 }, 'every counter');
    const exactCost = events.reduce((sum, e) => sum + e.costUsd, 0);
    t.ok(Math.abs((row?.costUsd ?? NaN) - exactCost) < 1e-9, `cost ${row?.costUsd} within 1e-9 of ${exactCost}`);
  });

  t.test('cost sums stay exact over many tiny costs', async (t) => {
    const events = Array.from({ length: 10_000 }, () => event('key_a', 'gpt-nano', FIRST_MS, 1, 1, 0));
    const store = await open(t, 400, events);
    t.equal((await store.query(range))[0]?.costUsd, 0.00025, '10,000 cached tokens at $0.025/1M is exactly $0.00025');
    t.equal(await store.monthlySpendUsd('key_a', MONTH2), 0.00025, 'the monthly spend too');
  });

  t.test('grouping by day, model, key and every combination; sorted by day, key, model', async (t) => {
    const store = await open(t, 400, FIXTURE);
    const groupings: UsageGrouping[][] = [
      ['day'],
      ['model'],
      ['key'],
      ['day', 'model'],
      ['day', 'key'],
      ['key', 'model'],
      ['day', 'key', 'model'],
    ];
    for (const groupBy of groupings) {
      t.same(await store.query({ ...range, groupBy }), expectedRows(FIXTURE, groupBy), `by ${groupBy.join('+')}`);
    }
    t.same(
      await store.query({ ...range, groupBy: ['model', 'key'] }),
      expectedRows(FIXTURE, ['key', 'model']),
      'the order of groupBy does not matter',
    );
    const rows = await store.query({ ...range, groupBy: ['model', 'day', 'key'] });
    const order = [DAY1, DAY2].flatMap((d) =>
      ['key_a', 'key_b'].flatMap((k) => [`${d} ${k} gpt-mini`, `${d} ${k} gpt-nano`]),
    );
    t.same(rows.map((r) => `${r.day} ${r.keyId} ${r.model}`), order, 'rows by day, then key, then model');
    t.same(
      Object.keys((await store.query({ ...range, groupBy: ['key'] }))[0] ?? {}).filter(
        (k) => k === 'day' || k === 'model',
      ),
      [],
      'no ungrouped dimension in a row',
    );
  });

  t.test('events a millisecond apart across midnight UTC land on different days', async (t) => {
    const store = await open(t, 400, [
      event('key_a', 'gpt-nano', LAST_MS, 100, 0, 10),
      event('key_a', 'gpt-nano', FIRST_MS, 200, 0, 20),
    ]);
    t.same(
      (await store.query({ ...range, groupBy: ['day'] })).map((r) => [r.day, r.promptTokens]),
      [
        [DAY1, 100],
        [DAY2, 200],
      ],
      'one row per day',
    );
    t.equal(
      (await store.query({ from: DAY1, to: DAY1 }))[0]?.promptTokens,
      100,
      'to is inclusive and excludes the next day',
    );
    t.equal((await store.query({ from: DAY2, to: DAY2 }))[0]?.promptTokens, 200, 'from excludes the day before');
  });

  t.test('filters by key ids and by model', async (t) => {
    const store = await open(t, 400, FIXTURE);
    const only = (keep: (e: UsageEvent) => boolean) => expectedRows(FIXTURE.filter(keep), ['day', 'key', 'model']);
    const rows = (q: { keyIds?: string[]; model?: string }) =>
      store.query({ ...range, ...q, groupBy: ['day', 'key', 'model'] });
    t.same(await rows({ keyIds: ['key_b'] }), only((e) => e.keyId === 'key_b'), 'one key');
    t.same(await rows({ keyIds: ['key_a', 'key_b'] }), only(() => true), 'both keys');
    t.same(await rows({ model: 'gpt-nano' }), only((e) => e.model === 'gpt-nano'), 'one model');
    t.same(
      await rows({ keyIds: ['key_a'], model: 'gpt-mini' }),
      only((e) => e.keyId === 'key_a' && e.model === 'gpt-mini'),
      'key and model',
    );
    t.same(await rows({ keyIds: [] }), [], 'an empty key list matches nothing');
    t.equal((await store.query({ ...range, model: 'unknown' }))[0]?.requests, 0, 'an unknown model totals zero');
  });

  t.test('monthly spend per key and UTC month', async (t) => {
    const store = await open(t, 400, FIXTURE);
    for (const keyId of ['key_a', 'key_b']) {
      for (const [month, at] of [[MONTH1, LAST_MS], [MONTH2, FIRST_MS]] as const) {
        const expected = expectedRows(FIXTURE.filter((e) => e.keyId === keyId && e.at === at), [])[0]?.costUsd;
        t.equal(await store.monthlySpendUsd(keyId, month), expected, `${keyId} in ${month}`);
      }
    }
    t.equal(await store.monthlySpendUsd('key_a', '1999-01'), 0, 'a month without usage');
    await t.rejects(store.monthlySpendUsd('key_a', '2025-13'), RangeError, 'month 13');
    await t.rejects(store.monthlySpendUsd('key_a', '2025-1'), RangeError, 'one-digit month');
  });

  t.test('malformed, reversed or too long ranges are a RangeError', async (t) => {
    const store = await open(t, 30);
    await t.rejects(store.query({ from: 'yesterday', to: DAY2 }), RangeError, 'not a date');
    await t.rejects(store.query({ from: '2025-02-30', to: '2025-03-01' }), RangeError, 'a day that does not exist');
    await t.rejects(store.query({ from: DAY2, to: DAY1 }), RangeError, 'from after to');
    await t.rejects(
      store.query({ from: '2025-01-01', to: '2025-01-31' }),
      RangeError,
      '31 days with a 30-day retention',
    );
    t.equal((await store.query({ from: '2025-01-01', to: '2025-01-30' })).length, 1, '30 days are fine');
  });

  t.test('500 concurrent record() calls, then flush(): nothing lost, nothing counted twice', async (t) => {
    const store = await open(t);
    const events = Array.from({ length: 500 }, (_, i) =>
      event(`key_${i % 5}`, `model-${i % 4}`, i % 2 ? LAST_MS : FIRST_MS, 1000, 200, 500, 100, i % 10 === 0),
    );
    // Some in this turn, some in later ones, so earlier writes are still in flight when flush() starts.
    await Promise.all(events.map(async (e, i) => {
      for (let turn = 0; turn < i % 3; turn++) await nextTurn();
      store.record(e);
    }));
    await store.flush();
    t.same(await store.query(range), expectedRows(events, []), 'exact totals');
    await store.flush();
    t.same(
      await store.query({ ...range, groupBy: ['key'] }),
      expectedRows(events, ['key']),
      'a second flush writes nothing again',
    );
    t.equal((await store.query(range))[0]?.costUsd, 0.1425, 'cost: 500 × $0.000285, exactly');
  });
}
