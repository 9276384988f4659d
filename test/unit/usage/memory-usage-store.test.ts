import t from 'tap';
import { MemoryUsageStore } from '../../../src/usage/memory-usage-store.js';
import { usageStoreSuite } from './usage-store-suite.js';

usageStoreSuite(t, (retention) => new MemoryUsageStore(retention));

t.test('days that fall out of retention are dropped when a newer day arrives', async (t) => {
  const store = new MemoryUsageStore({ retentionDays: 2 });
  const usage = {
    promptTokens: 1,
    cachedTokens: 0,
    completionTokens: 1,
    reasoningTokens: 0,
    totalTokens: 2,
    estimated: false,
  };
  const record = (day: string) =>
    store.record({ keyId: 'key_a', model: 'm', at: new Date(`${day}T12:00:00Z`), usage, costUsd: 0 });
  ['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04'].forEach(record);
  const byDay = await store.query({ from: '2025-01-01', to: '2025-01-02', groupBy: ['day'] });
  t.same(byDay.map((r) => r.day), ['2025-01-02'], '01-01 is more than 2 days before 01-04; 01-02 is kept');
});

t.test('hours that fall out of the hourly retention are dropped when a newer day arrives', async (t) => {
  const store = new MemoryUsageStore({ retentionDays: 10, hourlyRetentionDays: 1 });
  const usage = {
    promptTokens: 1,
    cachedTokens: 0,
    completionTokens: 1,
    reasoningTokens: 0,
    totalTokens: 2,
    estimated: false,
  };
  const record = (at: string) => store.record({ keyId: 'key_a', model: 'm', at: new Date(at), usage, costUsd: 0 });
  ['2025-01-01T05:00:00Z', '2025-01-02T06:00:00Z', '2025-01-03T07:00:00Z'].forEach(record);
  const hours = async (from: string) => (await store.query({ from, to: from, groupBy: ['hour'] })).map((r) => r.hour);
  t.same(await hours('2025-01-01'), [], '01-01 is more than a day before 01-03: its hours are gone');
  t.same(await hours('2025-01-02'), ['2025-01-02T06:00:00Z'], '01-02 is kept');
  t.equal((await store.query({ from: '2025-01-01', to: '2025-01-03' }))[0]?.requests, 3, 'the days are all kept');
});
