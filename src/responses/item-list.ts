/**
 * GET /v1/responses/:id/input_items of a bridged response, served from its record: OpenAI's cursor list
 * `{object: 'list', data, first_id, last_id, has_more}`, `limit` items (1 to 100, default 20) in `order`
 * (`desc`, newest first, by default; or `asc`), starting after the item `after` in that order. The SDK's
 * auto-pagination sends the last page's `last_id` as the next `after`.
 */
import { invalidListParameter } from '../errors.js';
import type { ResponseItem } from './stored-response.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
const EXPECTED = {
  limit: `an integer from 1 to ${MAX_LIMIT}`,
  order: "'asc' or 'desc'",
  after: "the id of one of this response's input items",
} as const;

export interface ListPage {
  limit: number;
  order: 'asc' | 'desc';
  after?: string;
}

export interface ItemList {
  object: 'list';
  data: ResponseItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** The list parameters of a parsed query (a string each, a list when repeated); a 400 names a bad one. */
export function listPage(query: Record<string, unknown>): ListPage {
  const limit = single(query, 'limit');
  const order = single(query, 'order');
  const page: ListPage = { limit: DEFAULT_LIMIT, order: 'desc' };
  if (limit !== undefined) {
    page.limit = Number(limit);
    if (!/^\d+$/.test(limit) || page.limit < 1 || page.limit > MAX_LIMIT) throw invalidListParameter('limit', EXPECTED.limit);
  }
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') throw invalidListParameter('order', EXPECTED.order);
    page.order = order;
  }
  const after = single(query, 'after');
  if (after !== undefined) page.after = after;
  return page;
}

/** One page of `items` (kept oldest first). An `after` that is not one of them is a 400. */
export function itemPage(items: readonly ResponseItem[], page: ListPage): ItemList {
  const ordered = page.order === 'asc' ? items : [...items].reverse();
  let start = 0;
  if (page.after !== undefined) {
    start = ordered.findIndex((item) => item.id === page.after) + 1;
    if (start === 0) throw invalidListParameter('after', EXPECTED.after);
  }
  const data = ordered.slice(start, start + page.limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + data.length < ordered.length,
  };
}

/** A parameter given at most once, as text; undefined when absent. */
function single(query: Record<string, unknown>, param: keyof typeof EXPECTED): string | undefined {
  const value = query[param];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidListParameter(param, EXPECTED[param]);
  return value;
}
