import t from 'tap';
import { MemoryKeyStore } from '../../../src/keys/memory-key-store.js';
import { keyStoreSuite } from './key-store-suite.js';

t.test('MemoryKeyStore behaviour', async (t) =>
  keyStoreSuite(t, async () => {
    const store = new MemoryKeyStore();
    // Memory has no persisted form: scan everything the store hands out instead.
    return { store, storedText: async () => [JSON.stringify(await store.list())], close: () => store.close() };
  }),
);

t.test('returned records are copies', async (t) => {
  const store = new MemoryKeyStore();
  const { record } = await store.create({ name: 'alice', tier: 'tier-1', models: ['a'] });
  (await store.get(record.id))!.models!.push('b');
  t.same((await store.get(record.id))?.models, ['a'], 'mutating a returned record does not change the store');
});
