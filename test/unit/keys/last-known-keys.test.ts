import t from 'tap';
import type { ApiKeyRecord } from '../../../src/keys/api-key.js';
import { LastKnownKeys } from '../../../src/keys/last-known-keys.js';

const record = (n: number, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id: `key_${n}`,
  name: `k${n}`,
  tier: 't',
  createdAt: '2025-01-01T00:00:00.000Z',
  source: 'admin',
  keyHash: `sha256:${n}`,
  ...extra,
});

t.test('bounded: past maxEntries the least recently used record leaves first', async (t) => {
  const known = new LastKnownKeys(3);
  for (let n = 1; n <= 3; n++) known.set(`sha256:${n}`, record(n));
  t.equal(known.get('sha256:1')?.id, 'key_1', 'key 1 is read (now the most recently used)');
  known.set('sha256:4', record(4));
  t.equal(known.size, 3, 'never more than maxEntries');
  t.equal(known.get('sha256:2'), undefined, 'key 2, the least recently used, left');
  t.equal(known.get('sha256:1')?.id, 'key_1', 'key 1 stayed');
  for (let n = 5; n < 1_000; n++) known.set(`sha256:${n}`, record(n));
  t.equal(known.size, 3, 'still bounded after many keys');
});

t.test('update replaces only a record already kept', async (t) => {
  const known = new LastKnownKeys(10);
  known.set('sha256:1', record(1));
  known.update(record(1, { revokedAt: '2025-02-01T00:00:00.000Z' }));
  t.ok(known.get('sha256:1')?.revokedAt, 'a kept record takes the change');
  known.update(record(2));
  t.equal(known.get('sha256:2'), undefined, 'a record never resolved is not added');
  known.delete('sha256:1');
  t.equal(known.size, 0, 'delete drops it');
});

t.test('maxEntries must be a positive integer', async (t) => {
  t.throws(() => new LastKnownKeys(0), RangeError);
});
