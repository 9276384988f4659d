import t from 'tap';
import { TokenCountCache } from '../../../src/openai/token-count-cache.js';

t.test('holds at most maxChars of text, dropping the oldest first', async (t) => {
  const cache = new TokenCountCache(80);
  cache.set('a'.repeat(10), 1);
  cache.set('b'.repeat(10), 2);
  t.equal(cache.get('a'.repeat(10)), 1, 'a text comes back with its count');
  for (let i = 0; i < 7; i++) cache.set(String(i).repeat(10), i);
  t.equal(cache.size, 8, '8 texts of 10 chars fill 80 chars');
  t.equal(cache.get('a'.repeat(10)), undefined, 'the oldest text left first');
  t.equal(cache.get('b'.repeat(10)), 2, 'the next oldest is still there');
});

t.test('a text over an eighth of the capacity is never kept', async (t) => {
  const cache = new TokenCountCache(80);
  cache.set('x'.repeat(5), 1);
  cache.set('y'.repeat(11), 3);
  t.equal(cache.get('y'.repeat(11)), undefined, 'too large to keep');
  t.equal(cache.get('x'.repeat(5)), 1, 'and it evicted nothing');
});
