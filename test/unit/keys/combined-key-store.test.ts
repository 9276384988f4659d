import t from 'tap';
import { hashKey, staticKeyId, type ApiKeyRecord } from '../../../src/keys/api-key.js';
import { CombinedKeyStore } from '../../../src/keys/combined-key-store.js';
import { MemoryKeyStore } from '../../../src/keys/memory-key-store.js';

const configHash = hashKey('sk-tg-from-the-config-file');
const configKey: ApiKeyRecord = {
  id: staticKeyId(configHash),
  name: 'ops',
  tier: 't',
  createdAt: '2026-01-01T00:00:00Z',
  source: 'config',
  keyHash: configHash,
};

t.test('static keys first, then managed ones', async (t) => {
  const managed = new MemoryKeyStore();
  const store = new CombinedKeyStore([configKey], managed);
  const { record, plaintext } = await managed.create({ name: 'alice', tier: 't' });
  t.equal((await store.findByHash(configHash))?.id, configKey.id, 'a config key authenticates');
  t.equal((await store.findByHash(hashKey(plaintext)))?.id, record.id, 'a managed key authenticates');
  t.equal(await store.findByHash(hashKey('sk-tg-nobody')), undefined, 'an unknown key does not');
  t.same((await store.list()).map((r) => r.id), [configKey.id, record.id], 'list: config keys, then managed');
  t.equal((await store.get(configKey.id))?.source, 'config', 'get finds config keys');
  t.equal((await store.get(record.id))?.source, 'admin', 'get finds managed keys');
  t.ok(store.isStatic(configKey.id), 'config keys are static');
  t.notOk(store.isStatic(record.id), 'managed keys are not');
});
