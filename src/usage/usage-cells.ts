/**
 * What both usage stores share: counters per (UTC day, key, model) and (UTC hour, key, model) cell,
 * day validation, filters, grouping and sorting, so the memory and Redis stores cannot drift apart.
 */
import { nanosToUsd, usdToNanos } from './cost.js';
import type { UsageEvent, UsageGrouping, UsageQuery, UsageRow } from './usage-store.js';
import { MAX_REPORTED_TOKENS, TOKEN_COUNTS } from '../openai/usage.js';

export const DEFAULT_RETENTION_DAYS = 400;
export const DEFAULT_HOURLY_RETENTION_DAYS = 3;
export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

/** What one (day, key, model) cell adds up; cost in nano-dollars (see cost.ts). */
export const COUNTERS = ['requests', ...TOKEN_COUNTS, 'estimatedRequests', 'costNanos'] as const;
export type Counters = Record<(typeof COUNTERS)[number], number>;

export interface Cell {
  day: string;
  /** `YYYY-MM-DDTHH` (UTC) on an hourly cell; absent on a daily one. */
  hour?: string;
  keyId: string;
  model: string;
  counters: Counters;
}

/** The last day formatted: every request records usage, and toISOString() costs more than the rest of it. */
let lastDay = { start: 0, end: 0, day: '', month: '' };

function dayOf(at: Date): typeof lastDay {
  const ms = at.getTime();
  if (ms >= lastDay.start && ms < lastDay.end) return lastDay;
  const start = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
  const day = at.toISOString().slice(0, 10); // throws on an invalid date, before anything is cached
  return (lastDay = { start, end: start + DAY_MS, day, month: day.slice(0, 7) });
}

/** `YYYY-MM-DD` of `at` in UTC. */
export const utcDay = (at: Date): string => dayOf(at).day;

/** The last hour formatted, for the same reason as lastDay. */
let lastHour = { start: 0, end: 0, hour: '' };

/** `YYYY-MM-DDTHH` of `at` in UTC: the id of its hourly cell. */
export function utcHour(at: Date): string {
  const ms = at.getTime();
  if (ms >= lastHour.start && ms < lastHour.end) return lastHour.hour;
  const start = ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS);
  const hour = at.toISOString().slice(0, 13); // throws on an invalid date, before anything is cached
  lastHour = { start, end: start + HOUR_MS, hour };
  return hour;
}

/** The 24 hourly cell ids of a day, oldest first. */
export const hoursOf = (day: string): string[] =>
  Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, '0')}`);
/** `YYYY-MM` of `at` in UTC. */
export const utcMonth = (at: Date): string => dayOf(at).month;
/** Spelled out for the same reason as addCounters; the Counters type makes it name every counter. */
export const zeroCounters = (): Counters => ({
  requests: 0,
  promptTokens: 0,
  cachedTokens: 0,
  completionTokens: 0,
  reasoningTokens: 0,
  estimatedRequests: 0,
  costNanos: 0,
});
/**
 * Every counter of an event becomes a non-negative safe integer no larger than its bound, whatever the
 * event says: Redis HINCRBY refuses anything else (`1e+21`), and one refused counter must not cost
 * another cell its record. The bounds keep a cell's sum within one batch exact (2^53) for a thousand
 * events at the bound.
 */
const bounded = (n: number, max: number): number => (n > 0 ? Math.min(Math.round(n), max) : 0); // NaN: 0
/** A cost above this (~$8,800) for one request is clamped to it. */
const MAX_EVENT_COST_NANOS = 2 ** 43;
const count = (n: number): number => bounded(n, MAX_REPORTED_TOKENS);

export function eventCounters({ usage, costUsd }: UsageEvent): Counters {
  return {
    requests: 1,
    promptTokens: count(usage.promptTokens),
    cachedTokens: count(usage.cachedTokens),
    completionTokens: count(usage.completionTokens),
    reasoningTokens: count(usage.reasoningTokens),
    estimatedRequests: usage.estimated ? 1 : 0,
    costNanos: bounded(usdToNanos(costUsd), MAX_EVENT_COST_NANOS),
  };
}

/** Field by field rather than a loop over COUNTERS: this runs for every request, and named fields stay fast. */
export function addCounters(into: Counters, from: Counters): void {
  into.requests += from.requests;
  into.promptTokens += from.promptTokens;
  into.cachedTokens += from.cachedTokens;
  into.completionTokens += from.completionTokens;
  into.reasoningTokens += from.reasoningTokens;
  into.estimatedRequests += from.estimatedRequests;
  into.costNanos += from.costNanos;
}

function parseDay(day: string, name: string): number {
  const ms = DAY_PATTERN.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
  // The round trip rejects days that do not exist (2025-02-30), which Date.parse may roll over.
  if (Number.isNaN(ms) || utcDay(new Date(ms)) !== day) {
    throw new RangeError(`${name} must be a UTC day YYYY-MM-DD, got "${day}"`);
  }
  return ms;
}

/** How many days a store keeps its daily and its hourly cells. */
export interface Retention {
  days: number;
  hourlyDays: number;
}

/** A query grouped by hour reads the hourly cells; every other query the daily ones. */
export const isHourly = (q: UsageQuery): boolean => q.groupBy?.includes('hour') ?? false;

/**
 * The query's days, oldest first. RangeError (the admin route's 400) if malformed, reversed or longer
 * than the retention of the cells it reads (hourly ones when grouped by hour).
 */
export function queryDays(q: UsageQuery, retention: Retention): string[] {
  const start = parseDay(q.from, 'from');
  const end = parseDay(q.to, 'to');
  if (start > end) throw new RangeError(`from (${q.from}) is after to (${q.to})`);
  const days = (end - start) / DAY_MS + 1;
  const [limit, kind] = isHourly(q) ? [retention.hourlyDays, 'hourly '] : [retention.days, ''];
  if (days > limit) throw new RangeError(`a range of ${days} days exceeds the ${limit}-day ${kind}retention`);
  return Array.from({ length: days }, (_, i) => utcDay(new Date(start + i * DAY_MS)));
}

export function assertMonth(month: string): void {
  if (!MONTH_PATTERN.test(month)) throw new RangeError(`month must be YYYY-MM, got "${month}"`);
}

/** An empty keyIds list matches no key (a team without keys has no usage), unlike an absent one. */
export const matches = (q: UsageQuery, keyId: string, model: string): boolean =>
  (q.keyIds === undefined || q.keyIds.includes(keyId)) && (q.model === undefined || q.model === model);

type Dims = Pick<UsageRow, DimName>;
type DimName = (typeof DIM_ORDER)[number];
/** Rows sort by these, in this order. */
const DIM_ORDER = ['hour', 'day', 'keyId', 'team', 'model'] as const;

/**
 * Sums cells into one row per group, sorted by hour, day, key, team, model; no grouping gives one
 * totals row, zeros if empty.
 */
export function toRows(
  cells: Iterable<Cell>,
  { groupBy = [], teamOf }: Pick<UsageQuery, 'groupBy' | 'teamOf'>,
): UsageRow[] {
  const by = new Set<UsageGrouping>(groupBy);
  const groups = new Map<string, { dims: Dims; counters: Counters }>();
  for (const cell of cells) {
    const dims: Dims = {
      ...(by.has('hour') && { hour: `${cell.hour}:00:00Z` }),
      ...(by.has('day') && { day: cell.day }),
      ...(by.has('key') && { keyId: cell.keyId }),
      ...(by.has('team') && { team: teamOf?.(cell.keyId) ?? null }),
      ...(by.has('model') && { model: cell.model }),
    };
    const id = JSON.stringify(DIM_ORDER.map((name) => dims[name]));
    const group = groups.get(id) ?? { dims, counters: zeroCounters() };
    groups.set(id, group);
    addCounters(group.counters, cell.counters);
  }
  if (by.size === 0 && groups.size === 0) groups.set('', { dims: {}, counters: zeroCounters() });
  return [...groups.values()].sort((a, b) => compareDims(a.dims, b.dims)).map(({ dims, counters: c }) => ({
    ...dims,
    requests: c.requests,
    promptTokens: c.promptTokens,
    cachedTokens: c.cachedTokens,
    completionTokens: c.completionTokens,
    reasoningTokens: c.reasoningTokens,
    costUsd: nanosToUsd(c.costNanos),
    estimatedRequests: c.estimatedRequests,
  }));
}

/** Code-point order (not locale): the same on every instance. */
function compareDims(a: Dims, b: Dims): number {
  for (const name of DIM_ORDER) {
    const x = a[name] ?? '';
    const y = b[name] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
