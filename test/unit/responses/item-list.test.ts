import t from 'tap';
import { GatewayError } from '../../../src/errors.js';
import { itemPage, listPage } from '../../../src/responses/item-list.js';
import type { ResponseItem } from '../../../src/responses/stored-response.js';

const items: ResponseItem[] = Array.from({ length: 5 }, (_, i) => ({ id: `item_${i}`, type: 'message' }));
const ids = (page: { data: ResponseItem[] }) => page.data.map((item) => item.id);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('defaults: 20 items, newest first', async (t) => {
  const page = itemPage(items, listPage({}));
  t.same(ids(page), ['item_4', 'item_3', 'item_2', 'item_1', 'item_0'], 'desc');
  t.match(page, { object: 'list', first_id: 'item_4', last_id: 'item_0', has_more: false }, 'the list envelope');
});

t.test('limit, order and after walk the list page by page', async (t) => {
  const first = itemPage(items, listPage({ limit: '2', order: 'asc' }));
  t.same([ids(first), first.has_more], [['item_0', 'item_1'], true], 'the first two, more to come');
  const second = itemPage(items, listPage({ limit: '2', order: 'asc', after: first.last_id }));
  t.same([ids(second), second.has_more], [['item_2', 'item_3'], true], 'after the last id of the first page');
  const last = itemPage(items, listPage({ limit: '2', order: 'asc', after: second.last_id }));
  t.same([ids(last), last.has_more], [['item_4'], false], 'the rest, and no more');
  t.same(ids(itemPage(items, listPage({ order: 'desc', after: 'item_2' }))), ['item_1', 'item_0'], 'after, desc');
  const empty = { object: 'list', data: [], first_id: null, last_id: null, has_more: false };
  t.same(itemPage([], listPage({})), empty, 'no items: an empty page');
});

t.test('bad values are a 400 naming the parameter', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: '2.5' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ limit: ['1', '2'] }, 'limit'],
    [{ order: 'newest' }, 'order'],
    [{ after: '' }, 'after'],
  ];
  for (const [query, param] of cases) {
    t.match(thrown(() => listPage(query)), { status: 400, param }, JSON.stringify(query));
  }
  const err = thrown(() => itemPage(items, listPage({ after: 'item_9' })));
  t.match(err, GatewayError, 'an after that is not an item of this response');
  t.match(err, { status: 400, param: 'after' }, 'names after');
  t.same(ids(itemPage(items, listPage({ limit: '100' }))).length, 5, '100 is allowed');
});
