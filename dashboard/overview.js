// Overview: this month's totals, hourly plots of the last 48 hours and daily plots of the month, the
// top keys / teams / models by cost, and the shares of 429s by reason and of upstream failures by
// provider. Each part loads on its own: one the gateway lacks says "not available", the rest still show.
import { api } from './api.js';
import { usagePlots } from './chart.js';
import { failure, fromTemplate, h, unavailable } from './dom.js';
import { count, exactUsd, percent, usd, utcDay, when } from './format.js';
import { daysBetween, fillBuckets, lastHours, monthToDate, totals } from './usage-rows.js';

const TOP = 8;

export async function render(root) {
  const page = fromTemplate('overview-page');
  page.querySelector('[data-action="refresh"]').addEventListener('click', () => render(root));
  root.replaceChildren(page);
  const month = monthToDate();
  const slot = (id, name) => page.querySelector(`#${id} [data-slot="${name}"]`);
  await Promise.all([
    loadHourly(slot('hourly', 'plots')),
    loadDaily(slot('daily', 'plots'), page.querySelector('[data-slot="tiles"]'), month),
    loadTop(slot('top-keys', 'list'), 'key', month),
    loadTop(slot('top-teams', 'list'), 'team', month),
    loadTop(slot('top-models', 'list'), 'model', month),
    loadStats(page.querySelector('#stats')),
  ]);
  page.dataset.loaded = 'true';
}

/** Runs `load`; on failure fills `slot` with a "not available" note (older gateway) or the error. */
async function section(slot, what, load) {
  try {
    await load();
  } catch (err) {
    slot.replaceChildren(err.unavailable ? unavailable(what, err) : failure(what, err));
  }
}

function loadHourly(slot) {
  return section(slot, 'Hourly usage', async () => {
    const hours = lastHours(48);
    const rows = await api.usage({ groupBy: 'hour', from: hours[0].slice(0, 10), to: utcDay(new Date()) });
    usagePlots(slot, fillBuckets(rows, 'hour', hours), 'hour');
  });
}

function loadDaily(slot, tiles, month) {
  return section(slot, 'Daily usage', async () => {
    const rows = await api.usage({ groupBy: 'day', ...month });
    usagePlots(slot, fillBuckets(rows, 'day', daysBetween(month.from, month.to)), 'day');
    tiles.replaceChildren(...monthTiles(totals(rows)));
  });
}

function monthTiles(sum) {
  const tile = (label, value, title) =>
    h('div', { class: 'tile', title }, h('span', {}, label), h('strong', {}, value));
  return [
    tile('Requests this month', count(sum.requests)),
    tile('Prompt tokens', count(sum.promptTokens), `of which cached: ${count(sum.cachedTokens)}`),
    tile('Completion tokens', count(sum.completionTokens), `of which reasoning: ${count(sum.reasoningTokens)}`),
    tile('Cost this month', usd(sum.costUsd), exactUsd(sum.costUsd)),
  ];
}

/** How each top list names its rows, and what it adds in small print. */
const TOP_LISTS = {
  key: { label: (row) => row.keyName ?? row.keyId, detail: (row) => row.team },
  team: { label: (row) => row.team ?? '(no team)', detail: () => undefined },
  model: { label: (row) => row.model, detail: () => undefined },
};

/** The `TOP` biggest rows by cost this month, as bars relative to the biggest. */
function loadTop(slot, groupBy, month) {
  const { label, detail } = TOP_LISTS[groupBy];
  return section(slot, `Usage by ${groupBy}`, async () => {
    const rows = (await api.usage({ groupBy, ...month })).sort((a, b) => b.costUsd - a.costUsd).slice(0, TOP);
    const biggest = rows[0]?.costUsd ?? 0;
    const items = rows.map((row) => ({
      label: label(row),
      detail: detail(row),
      share: biggest ? row.costUsd / biggest : 0,
      value: usd(row.costUsd),
      title: `${exactUsd(row.costUsd)} · ${count(row.requests)} requests`,
      point: { label: label(row), costUsd: row.costUsd },
    }));
    slot.replaceChildren(bars(items, 'No usage this month.'));
  });
}

/**
 * A list of labelled horizontal bars; `share` (0..1) is the bar's length. The list carries the items'
 * `point`s in `data-points`, the numbers it shows, as the plots do.
 */
function bars(items, none) {
  const points = JSON.stringify(items.map((item) => item.point));
  if (!items.length) return h('p', { class: 'muted', 'data-points': points }, none);
  return h('ol', { class: 'bars', 'data-points': points }, items.map((item) => {
    const bar = h('span', { class: 'bar' });
    bar.style.width = `${Math.max(item.share * 100, 0.5)}%`; // CSSOM, allowed by the page's CSP
    return h('li', { title: item.title },
      h('span', { class: 'label' }, item.label, item.detail ? h('small', {}, ` ${item.detail}`) : undefined),
      h('span', { class: 'track' }, bar),
      h('span', { class: 'value' }, item.value));
  }));
}

function loadStats(card) {
  return section(card.querySelector('.columns'), 'Refusal and failure counts', async () => {
    const stats = await api.stats();
    card.querySelector('[data-slot="since"]').textContent = `since ${when(stats.since)}`;
    const byProvider = new Map();
    for (const { provider, count: n } of stats.upstreamFailures) {
      byProvider.set(provider, (byProvider.get(provider) ?? 0) + n);
    }
    card.querySelector('#refusals [data-slot="list"]')
      .replaceChildren(shares(Object.entries(stats.refusals), 'No request was refused.'));
    card.querySelector('#failures [data-slot="list"]')
      .replaceChildren(shares([...byProvider], 'No upstream failure.'), causes(stats.upstreamFailures));
  });
}

/** [[name, count], …] as bars of their share of the total, biggest first. */
function shares(entries, none) {
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const sorted = entries.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return bars(sorted.map(([name, n]) => ({
    label: name,
    share: n / total,
    value: `${percent(n, total)} (${count(n)})`,
    title: `${count(n)} of ${count(total)}`,
    point: { label: name, count: n },
  })), none);
}

function causes(failures) {
  if (!failures.length) return '';
  const list = failures.map((f) => `${f.provider}: ${f.cause} ×${count(f.count)}`).join(' · ');
  return h('p', { class: 'muted small' }, list);
}
