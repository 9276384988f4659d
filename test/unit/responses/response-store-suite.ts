/**
 * The behaviour every ResponseStore must show, run against MemoryResponseStore and RedisResponseStore
 * (real redis-server). Each scenario gets a fresh store. Expiry depends on each one's clock, so it is
 * proven beside each implementation: a fake clock for memory, the TTL Redis reports for Redis.
 */
import type { Test } from 'tap';
import type { ResponseStore, StoredResponse } from '../../../src/responses/stored-response.js';

export interface Harness {
  store: ResponseStore;
  close(): Promise<void>;
}

let ids = 0;

/** A record as the exchange writes one: native (the provider holds it) or bridged (the record holds it). */
export function record(holder: 'native' | 'bridged', overrides: Partial<StoredResponse> = {}): StoredResponse {
  const id = `resp_${holder}_${process.pid}_${++ids}`;
  return {
    id,
    keyId: 'key_a1b2c3d4e5f6',
    model: 'gpt-4.1-nano',
    createdAt: Math.floor(Date.now() / 1000),
    holder:
      holder === 'native'
        ? { kind: 'native', provider: 'primary' }
        : { kind: 'bridged', response: { id, object: 'response', status: 'completed', output: [] } },
    input: [{ id: `msg_in_${ids}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi ✓' }] }],
    output: [{ id: `msg_out_${ids}`, type: 'message', role: 'assistant', content: [] }],
    ...overrides,
  };
}

export function responseStoreSuite(t: Test, make: () => Promise<Harness>): void {
  const scenario = (name: string, fn: (store: ResponseStore, t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      const harness = await make();
      t.teardown(() => harness.close());
      await fn(harness.store, t);
    });

  scenario('get returns each kind of record as it was put', async (store, t) => {
    const native = record('native');
    const bridged = record('bridged', { previousResponseId: native.id });
    await store.put(native);
    await store.put(bridged);
    t.same(await store.get(native.id), native, 'the native record, whole');
    t.same(await store.get(bridged.id), bridged, 'the bridged record with its response and its chain link');
    t.notOk('previousResponseId' in (await store.get(native.id))!, 'an absent optional member stays absent');
  });

  scenario('an unknown id is undefined', async (store, t) => {
    await store.put(record('native'));
    t.equal(await store.get('resp_unknown'), undefined, 'not found');
  });

  scenario('a second put of the same id replaces the record', async (store, t) => {
    const first = record('bridged');
    await store.put(first);
    const second = { ...first, output: [{ id: 'msg_new', type: 'message' }] };
    await store.put(second);
    t.same(await store.get(first.id), second, 'the later record');
  });

  scenario('delete removes the record once', async (store, t) => {
    const kept = record('native');
    const removed = record('bridged');
    await store.put(kept);
    await store.put(removed);
    t.equal(await store.delete(removed.id), true, 'the first delete removes it');
    t.equal(await store.get(removed.id), undefined, 'it is gone');
    t.equal(await store.delete(removed.id), false, 'a second delete finds nothing');
    t.equal(await store.delete('resp_unknown'), false, 'so does a delete of an unknown id');
    t.same(await store.get(kept.id), kept, 'the other record stays');
  });

  scenario('records are copies: changing one held outside does not change the store', async (store, t) => {
    const original = record('bridged');
    const expected = structuredClone(original);
    await store.put(original);
    original.input.push({ id: 'msg_late', type: 'message' });
    const got = (await store.get(original.id))!;
    got.output.length = 0;
    t.same(await store.get(original.id), expected, 'the record as it was put');
  });
}
