import t from 'tap';
import { hashKey } from '../../../src/keys/api-key.js';
import { KeyHashCache } from '../../../src/keys/key-hash-cache.js';

t.test('hashes like hashKey, remembered or not', async (t) => {
  const cache = new KeyHashCache();
  const key = 'sk-tg-a-busy-key';
  t.equal(cache.hash(key), hashKey(key), 'first sight: computed');
  cache.remember(key, hashKey(key));
  t.equal(cache.hash(key), hashKey(key), 'remembered: the same hash');
  t.equal(cache.hash('sk-tg-other'), hashKey('sk-tg-other'), 'another key is not confused with it');
});

t.test('only keys the caller remembers are kept, and never more than the bound', async (t) => {
  const cache = new KeyHashCache(3);
  for (let i = 0; i < 100; i++) cache.hash(`sk-tg-made-up-${i}`);
  t.equal(cache.size, 0, 'hashing unknown keys keeps nothing');
  for (let i = 0; i < 3; i++) cache.remember(`sk-tg-real-${i}`, hashKey(`sk-tg-real-${i}`));
  t.equal(cache.size, 3);
  cache.remember('sk-tg-real-0', hashKey('sk-tg-real-0'));
  t.equal(cache.size, 3, 'remembering a known key again changes nothing');
  cache.remember('sk-tg-real-3', hashKey('sk-tg-real-3'));
  t.equal(cache.size, 1, 'full: it starts over with the new key');
  t.equal(cache.hash('sk-tg-real-0'), hashKey('sk-tg-real-0'), 'a forgotten key is hashed again, correctly');
});
