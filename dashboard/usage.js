// Usage: filter by key, team, model and date range, per day or hour; a plot and a table of the same
// rows, and a CSV of exactly the rows and columns the table shows (raw numbers, as the API gives them).
// The filters live in the hash (#usage?keyId=…&from=…), so a view can be bookmarked; no secret is in it.
import { api } from './api.js';
import { usagePlots } from './chart.js';
import { failure, fromTemplate, h, table, unavailable } from './dom.js';
import { count, exactUsd, usd } from './format.js';
import { daysBetween, fillBuckets, hoursBetween, monthToDate, totals } from './usage-rows.js';

const FILTERS = ['keyId', 'team', 'model', 'from', 'to', 'per'];

const COLUMNS = [
  { field: 'requests', label: 'Requests', format: count },
  { field: 'promptTokens', label: 'Prompt tokens', format: count },
  { field: 'cachedTokens', label: 'of which cached', format: count },
  { field: 'completionTokens', label: 'Completion tokens', format: count },
  { field: 'reasoningTokens', label: 'of which reasoning', format: count },
  { field: 'costUsd', label: 'Cost', format: (n) => h('span', { title: exactUsd(n) }, usd(n)) },
  { field: 'estimatedRequests', label: 'Estimated', format: count },
];

export async function render(root, params) {
  const page = fromTemplate('usage-page');
  root.replaceChildren(page);
  const form = page.querySelector('#usage-filters');
  const filters = { ...monthToDate(), per: 'day', ...params };
  await fillChoices(page);
  for (const name of FILTERS) form.elements[name].value = filters[name] ?? '';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value.trim()]));
    window.history.replaceState(null, '', `#usage?${new URLSearchParams(Object.entries(chosen).filter(([, v]) => v))}`);
    void show(page, chosen);
  });
  await show(page, filters);
}

/** The key and team menus from the key list, the model suggestions from this month's usage. */
async function fillChoices(page) {
  const form = page.querySelector('#usage-filters');
  const [keys, models] = await Promise.all([
    api.listKeys().catch(() => []),
    api.usage({ groupBy: 'model' }).catch(() => []), // suggestions only: the field takes any alias
  ]);
  const option = (value, label) => h('option', { value }, label);
  form.elements.keyId.append(...keys.map((k) => option(k.id, `${k.name} (${k.id})`)));
  const teams = [...new Set(keys.map((k) => k.team).filter(Boolean))].sort();
  form.elements.team.append(...teams.map((team) => option(team, team)));
  page.querySelector('#known-models').replaceChildren(...models.map((row) => h('option', { value: row.model })));
}

async function show(page, filters) {
  const bucket = filters.per === 'hour' ? 'hour' : 'day';
  const plots = page.querySelector('#usage-plots');
  const slot = page.querySelector('[data-slot="table"]');
  const summary = page.querySelector('[data-slot="summary"]');
  page.dataset.loaded = 'false';
  let rows;
  try {
    const { keyId, team, model, from, to } = filters;
    rows = await api.usage({ keyId, team, model, from, to, groupBy: bucket });
  } catch (err) {
    const note = err.unavailable ? unavailable(`Usage per ${bucket}`, err) : failure('Usage', err);
    plots.replaceChildren(note);
    slot.replaceChildren();
    summary.textContent = '';
    page.dataset.loaded = 'true'; // loaded: with a note where the numbers would be
    return;
  }
  rows.sort((a, b) => a[bucket].localeCompare(b[bucket]));
  const labels = bucket === 'hour' ? hoursBetween(filters.from, filters.to) : daysBetween(filters.from, filters.to);
  usagePlots(plots, fillBuckets(rows, bucket, labels), bucket);
  const sum = totals(rows);
  const buckets = `${count(rows.length)} ${bucket}${rows.length === 1 ? '' : 's'} with usage`;
  summary.textContent = `${buckets} · ${count(sum.requests)} requests · ${usd(sum.costUsd)}`;
  slot.replaceChildren(usageTable(rows, bucket, sum));
  page.querySelector('[data-action="csv"]').onclick = () => download(csv(rows, bucket), filename(filters));
  page.dataset.loaded = 'true';
}

function usageTable(rows, bucket, sum) {
  const label = bucket === 'hour' ? 'Hour (UTC)' : 'Day (UTC)';
  const columns = [
    { label, value: (row) => (row === sum ? 'Total' : bucketLabel(row, bucket)) },
    ...COLUMNS.map((c) => ({ label: c.label, numeric: true, value: (row) => c.format(row[c.field]) })),
  ];
  return table(columns, rows, { footer: sum, empty: 'No usage for these filters.' });
}

const bucketLabel = (row, bucket) => (bucket === 'hour' ? row.hour.slice(0, 16).replace('T', ' ') : row.day);

/** The table's columns, raw values; RFC 4180 line ends, as the admin API's own CSV (nothing needs quoting). */
function csv(rows, bucket) {
  const columns = [bucket, ...COLUMNS.map((c) => c.field)];
  const lines = [columns.join(','), ...rows.map((row) => columns.map((c) => String(row[c] ?? '')).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

function filename({ from, to, keyId, team, model }) {
  return ['tollgate-usage', from, to, keyId, team, model].filter(Boolean).join('_').replace(/[^\w.-]+/g, '-') + '.csv';
}

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url)); // after the download has taken the blob
}
