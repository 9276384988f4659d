// Usage rows as the admin API gives them (GET /admin/usage), turned into what plots and tables need:
// every time bucket of a range (a bucket without a row had no usage: zero), and totals.
import { utcDay, utcHour } from './format.js';

const COUNTERS = [
  'requests', 'promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens', 'costUsd', 'estimatedRequests',
];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The `count` hour labels ending with the current hour, oldest first. */
export function lastHours(count, now = new Date()) {
  const current = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  return Array.from({ length: count }, (_, i) => utcHour(new Date(current - (count - 1 - i) * HOUR_MS)));
}

/** The day labels from `from` to `to` (YYYY-MM-DD, inclusive). */
export function daysBetween(from, to) {
  const labels = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += DAY_MS) labels.push(utcDay(new Date(t)));
  return labels;
}

/** Hour labels from the first hour of `from` to the last of `to` (YYYY-MM-DD, inclusive). */
export function hoursBetween(from, to) {
  const labels = [];
  for (let t = Date.parse(from); t < Date.parse(to) + DAY_MS; t += HOUR_MS) labels.push(utcHour(new Date(t)));
  return labels;
}

/** One point per label, {[bucket]: label, …counters}: the row's counters, or zeros where there is none. */
export function fillBuckets(rows, bucket, labels) {
  const byLabel = new Map(rows.map((row) => [row[bucket], row]));
  return labels.map((label) => {
    const row = byLabel.get(label) ?? {};
    return { [bucket]: label, ...Object.fromEntries(COUNTERS.map((c) => [c, row[c] ?? 0])) };
  });
}

/** Field-wise sum of the counters. */
export function totals(rows) {
  return Object.fromEntries(COUNTERS.map((c) => [c, rows.reduce((sum, row) => sum + (row[c] ?? 0), 0)]));
}

/** This UTC month from its first day to today, as the API's from/to. */
export function monthToDate(now = new Date()) {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { from: utcDay(first), to: utcDay(now) };
}

/** Seconds since the epoch of a day or hour label (uPlot's x values). */
export const labelSeconds = (label) => Date.parse(label.length === 10 ? `${label}T00:00:00Z` : label) / 1000;
