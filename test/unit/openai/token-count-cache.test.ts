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

t.test('evicts oldest first through many turns of the queue', async (t) => {
  const cache = new TokenCountCache(100);
  for (let i = 0; i < 1000; i++) cache.set(String(i).padStart(10, '0'), i);
  t.equal(cache.size, 10, 'holds 100 chars of 10-char texts');
  for (let i = 990; i < 1000; i++) t.equal(cache.get(String(i).padStart(10, '0')), i, `the newest, ${i}, is kept`);
  t.equal(cache.get(String(989).padStart(10, '0')), undefined, 'the one before them left');
});

t.test('a long text is found again from a copy of it, and a different one is not', async (t) => {
  const cache = new TokenCountCache(1_000_000);
  const text = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  cache.set(text, 42);
  t.equal(cache.get(`${text.slice(0, 1500)}${text.slice(1500)}`), 42, 'an equal text built anew');
  t.equal(cache.get(`${text}x`), undefined, 'a longer one');
  t.equal(cache.get(`x${text.slice(1)}`), undefined, 'one with another first char');
  t.equal(cache.get(`${text.slice(0, -1)}x`), undefined, 'one with another last char');
  t.ok(cache.size === 1, 'one entry');
});
