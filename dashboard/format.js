// How numbers and times read: tokens with thousands separators, costs to the cent (a nonzero cost
// below a cent says so instead of rounding to $0.00), times in UTC as the usage store keeps them.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dollars = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

export const count = (n) => integer.format(n ?? 0);

export function usd(n) {
  if (n > 0 && n < 0.005) return '<$0.01';
  return dollars.format(n ?? 0);
}

/** Every digit the API gave, for a tooltip beside the rounded figure. */
export const exactUsd = (n) => `$${n ?? 0}`;

const significant = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 2 });
/** Plot axes and hover values: cents, or two significant digits below a cent ($0.0000012). */
export const plotUsd = (n) => (n >= 0.01 || n === 0 ? dollars.format(n) : significant.format(n));

export const percent = (part, whole) => (whole ? `${Math.round((part / whole) * 1000) / 10}%` : '–');

/** YYYY-MM-DD of a Date, in UTC. */
export const utcDay = (date) => date.toISOString().slice(0, 10);

/** YYYY-MM-DDTHH:00:00Z of a Date: the hour a usage row of groupBy=hour names. */
export const utcHour = (date) => `${date.toISOString().slice(0, 13)}:00:00Z`;

/** A moment for people, from an ISO string or epoch milliseconds: "2026-11-03 14:05 UTC". */
export function when(moment) {
  if (moment === undefined || moment === null) return '–';
  const iso = new Date(moment).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
