import t from 'tap';
import { MemoryResponseStore } from '../../../src/responses/memory-response-store.js';
import { record, responseStoreSuite } from './response-store-suite.js';

const DAY_MS = 86_400_000;

t.test('MemoryResponseStore behaviour', async (t) =>
  responseStoreSuite(t, async () => {
    const store = new MemoryResponseStore({ retentionDays: 30 });
    return { store, close: () => store.close() };
  }),
);

/** A store on a clock the test moves. */
function clocked(retentionDays: number, maxRecords?: number) {
  let now = Date.UTC(2026, 0, 1);
  const store = new MemoryResponseStore({ retentionDays, maxRecords, now: () => now });
  return { store, advance: (ms: number) => (now += ms) };
}

t.test('a record is kept retentionDays from its write, then expires', async (t) => {
  const { store, advance } = clocked(30);
  const first = record('native');
  await store.put(first);
  advance(10 * DAY_MS);
  const second = record('bridged');
  await store.put(second);
  advance(20 * DAY_MS - 1);
  t.ok(await store.get(first.id), 'the first, a millisecond before its 30 days are up: kept');
  advance(1);
  t.equal(await store.get(first.id), undefined, 'at 30 days: gone');
  t.equal(await store.delete(first.id), false, 'and an expired record is not deleted a second time');
  t.ok(await store.get(second.id), 'the second, written ten days later, still kept');
  advance(10 * DAY_MS);
  t.equal(await store.get(second.id), undefined, 'until its own 30 days are up');
});

t.test('rewriting a record starts its retention again', async (t) => {
  const { store, advance } = clocked(1);
  const kept = record('bridged');
  await store.put(kept);
  advance(DAY_MS - 1);
  await store.put(kept);
  advance(DAY_MS - 1);
  t.ok(await store.get(kept.id), 'a day after the first write, kept: the rewrite counts');
});

t.test('past maxRecords the record written longest ago leaves first', async (t) => {
  const { store } = clocked(30, 3);
  const [a, b, c, d] = [record('native'), record('native'), record('native'), record('native')];
  for (const r of [a, b, c]) await store.put(r);
  await store.put(a); // rewritten: now the newest
  await store.put(d);
  t.equal(await store.get(b.id), undefined, 'b, the oldest write, was evicted');
  for (const r of [c, a, d]) t.ok(await store.get(r.id), `${r.id} kept`);
});

t.test('the default bound is 10,000 records', async (t) => {
  const { store } = clocked(30);
  const all = Array.from({ length: 10_001 }, () => record('native'));
  for (const r of all) await store.put(r);
  t.equal(await store.get(all[0]!.id), undefined, 'the 10,001st write evicts the first');
  t.ok(await store.get(all[1]!.id), 'and only the first');
});
