/**
 * The behaviour every UsageStore must have, run against each implementation with its own factory.
 * Times are relative to now (the last millisecond of the previous UTC month and the first of this
 * one; for hourly cells, the last 48 hours) so Redis does not expire them on arrival.
 */
import type { Test } from 'tap';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { costUsd } from '../../../src/usage/cost.js';
import type { UsageEvent, UsageGrouping, UsageRow, UsageStore } from '../../../src/usage/usage-store.js';
import { zeroUsageCounters } from '../../helpers/usage-counters.js';

export type StoreFactory = (options: {
  retentionDays: number;
  hourlyRetentionDays: number;
}) => UsageStore | Promise<UsageStore>;

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

/** Teams for grouping by team: key_b has none. */
const TEAMS: Record<string, string> = { key_a: 'red', key_c: 'blue' };
const teamOf = (keyId: string): string | undefined => TEAMS[keyId];

/** A reference aggregation, written the obvious way, to compare the stores with. */
function expectedRows(events: UsageEvent[], groupBy: UsageGrouping[]): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const e of events) {
    const iso = e.at.toISOString();
    const dims = {
      ...(groupBy.includes('hour') && { hour: `${iso.slice(0, 13)}:00:00Z` }),
      ...(groupBy.includes('day') && { day: iso.slice(0, 10) }),
      ...(groupBy.includes('key') && { keyId: e.keyId }),
      ...(groupBy.includes('team') && { team: teamOf(e.keyId) ?? null }),
      ...(groupBy.includes('model') && { model: e.model }),
    };
    // NUL sorts before any character: tuple order (a team of null sorts first).
    const id = [dims.hour, dims.day, dims.keyId, dims.team, dims.model].join('\0');
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

/** Event times across the last 48 hours, oldest first: every hour, some at its first and last millisecond. */
const HOUR_MS = 3_600_000;
const THIS_HOUR = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
const RECENT_TIMES = Array.from({ length: 48 }, (_, h) => THIS_HOUR - (47 - h) * HOUR_MS).flatMap((start) => [
  new Date(start),
  new Date(start + 1_234_567),
  new Date(Math.min(start + HOUR_MS - 1, now.getTime())),
]);
const RECENT_RANGE = {
  from: RECENT_TIMES[0]!.toISOString().slice(0, 10),
  to: now.toISOString().slice(0, 10),
};
/** Three keys (one without a team) × two models over the last 48 hours, every event different. */
const RECENT = RECENT_TIMES.flatMap((at, i) =>
  ['key_a', 'key_b', 'key_c'].flatMap((keyId, k) =>
    ['gpt-mini', 'gpt-nano'].map((model, m) =>
      event(keyId, model, at, 10 * (i + 1) + k, i % 7, 5 + m + (i % 11), i % 3, (i + k + m) % 5 === 0),
    ),
  ),
);

/** Hourly rows summed into daily rows (same other dimensions and order); cost in nano-dollars, as stored. */
function sumByDay(rows: UsageRow[]): UsageRow[] {
  const days = new Map<string, UsageRow>();
  for (const { hour, ...row } of rows) {
    const day = hour!.slice(0, 10);
    const id = [day, row.keyId, row.model].join('\0');
    const sum = days.get(id) ?? { day, ...row, ...zeroUsageCounters() };
    days.set(id, sum);
    for (const counter of Object.keys(zeroUsageCounters()) as (keyof ReturnType<typeof zeroUsageCounters>)[]) {
      sum[counter] += row[counter];
    }
    sum.costUsd = Math.round(sum.costUsd * 1e9) / 1e9;
  }
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
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
  const open = async (t: Test, retentionDays = 400, events: UsageEvent[] = [], hourlyRetentionDays = 3) => {
    const store = await makeStore({ retentionDays, hourlyRetentionDays });
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
    // Hourly cells kept as long as daily ones: the month's edge may be weeks ago.
    const store = await open(t, 400, [], 400);
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
    t.same(
      sumByDay(await store.query({ ...range, groupBy: ['hour', 'key'] })),
      await store.query({ ...range, groupBy: ['day', 'key'] }),
      'the hourly cells, summed per day, are the daily ones exactly',
    );
  });

  t.test('hourly cells: grouped by hour they sum to the daily cells, in every combination', async (t) => {
    const store = await open(t, 400, RECENT);
    const q = { ...RECENT_RANGE, teamOf };
    const groupings: UsageGrouping[][] = [
      ['hour'],
      ['hour', 'key'],
      ['hour', 'model'],
      ['hour', 'team'],
      ['hour', 'key', 'model'],
      ['hour', 'team', 'key', 'model'],
    ];
    for (const groupBy of groupings) {
      t.same(await store.query({ ...q, groupBy }), expectedRows(RECENT, groupBy), `by ${groupBy.join('+')}`);
    }
    const hours = await store.query({ ...q, groupBy: ['hour'] });
    t.equal(hours.length, 48, 'one row per hour of the 48');
    t.match(hours[0], { hour: /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/ }, 'hours as YYYY-MM-DDTHH:00:00Z');
    t.same(hours.map((row) => row.hour), [...hours.map((row) => row.hour!)].sort(), 'oldest first');
    for (const groupBy of [[], ['key'], ['model'], ['key', 'model']] as UsageGrouping[][]) {
      const label = groupBy.map((g) => `+${g}`).join('');
      const daily = await store.query({ ...q, groupBy: ['day', ...groupBy] });
      t.same(daily, expectedRows(RECENT, ['day', ...groupBy]), `by day${label}: the daily cells`);
      const hourly = await store.query({ ...q, groupBy: ['hour', ...groupBy] });
      t.same(sumByDay(hourly), daily, `by hour${label}, summed per day: exactly the daily rows`);
    }
  });

  t.test('grouping by team: keys without a team under null; team with key and model', async (t) => {
    const store = await open(t, 400, FIXTURE);
    const q = { ...range, teamOf };
    for (const groupBy of [['team'], ['day', 'team'], ['team', 'key'], ['team', 'model']] as UsageGrouping[][]) {
      t.same(await store.query({ ...q, groupBy }), expectedRows(FIXTURE, groupBy), `by ${groupBy.join('+')}`);
    }
    t.same(
      (await store.query({ ...q, groupBy: ['team'] })).map((row) => row.team),
      [null, 'red'],
      'key_b (no team) under null, sorted first',
    );
    t.same(
      (await store.query({ ...range, groupBy: ['team'] })).map((row) => row.team),
      [null],
      'without teamOf every key is without a team',
    );
  });

  t.test('a range longer than the hourly retention is a RangeError when grouped by hour only', async (t) => {
    const store = await open(t, 30, [], 2);
    const threeDays = { from: '2025-01-01', to: '2025-01-03' };
    const byHour = { ...threeDays, groupBy: ['hour'] as UsageGrouping[] };
    await t.rejects(store.query(byHour), RangeError, '3 days with a 2-day hourly retention');
    await t.rejects(
      store.query(byHour),
      { message: /2-day hourly retention/ },
      'naming the hourly retention',
    );
    t.same(await store.query({ from: '2025-01-01', to: '2025-01-02', groupBy: ['hour'] }), [], '2 days are fine');
    t.equal((await store.query(threeDays))[0]?.requests, 0, 'daily cells keep their own retention');
  });
}
