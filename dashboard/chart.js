// Time-series plots of usage with uPlot (served from node_modules as vendor/uPlot.esm.js). Each plot's
// figure carries the exact numbers it draws in `data-points` (JSON), so what the plot shows can be
// checked against the admin API without reading pixels.
import UPlot from './vendor/uPlot.esm.js';
import { h } from './dom.js';
import { count, plotUsd } from './format.js';
import { labelSeconds } from './usage-rows.js';

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const bars = UPlot.paths.bars({ size: [0.7, 40] });

/** The three plots of a usage period: requests, tokens (prompt, of which cached, completion), cost. */
const PLOTS = [
  {
    name: 'requests',
    title: 'Requests',
    axis: (v) => compact.format(v),
    series: [{ field: 'requests', label: 'requests', color: '#4f46e5', bars: true, value: count }],
  },
  {
    name: 'tokens',
    title: 'Tokens',
    axis: (v) => compact.format(v),
    series: [
      { field: 'promptTokens', label: 'prompt', color: '#0284c7', value: count },
      { field: 'cachedTokens', label: 'of which cached', color: '#7dd3fc', value: count },
      { field: 'completionTokens', label: 'completion', color: '#d97706', value: count },
    ],
  },
  {
    name: 'cost',
    title: 'Cost (USD)',
    axis: plotUsd,
    series: [{ field: 'costUsd', label: 'cost', color: '#059669', bars: true, value: plotUsd }],
  },
];

/**
 * Fills `container` with the three plots of `points` ({[bucket]: label, …counters}, oldest first);
 * `bucket` is 'hour' or 'day'.
 */
export function usagePlots(container, points, bucket) {
  container.replaceChildren(...PLOTS.map((plot) => figure(plot, points, bucket)));
}

function figure(plot, points, bucket) {
  const fields = plot.series.map((s) => s.field);
  const shown = points.map((p) => Object.fromEntries([[bucket, p[bucket]], ...fields.map((f) => [f, p[f]])]));
  const area = h('div', { class: 'plot' });
  const element = h(
    'figure',
    { class: 'chart', 'data-chart': plot.name, 'data-bucket': bucket, 'data-points': JSON.stringify(shown) },
    h('figcaption', {}, plot.title),
    area,
  );
  // uPlot measures its container: draw once the figure is in the document and has a width.
  const observer = new window.ResizeObserver(([entry]) => {
    const width = Math.floor(entry.contentRect.width);
    if (!width) return;
    if (area.plot) area.plot.setSize({ width, height: 170 });
    else area.plot = draw(plot, points, bucket, area, width);
  });
  observer.observe(area);
  return element;
}

/** Seconds per bucket, and the tick spacings (in seconds) the time axis may use. */
const BUCKETS = {
  hour: { seconds: 3600, incrs: [3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800] },
  day: { seconds: 86400, incrs: [86400, 172800, 345600, 604800, 1209600, 2419200] },
};
const monthDay = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** "Dec 2" for days; "14:00" for hours, with the date under each midnight. */
function tickLabel(seconds, bucket) {
  const date = new Date(seconds * 1000);
  if (bucket === 'day') return monthDay.format(date);
  const hour = `${date.toISOString().slice(11, 13)}:00`;
  return date.getUTCHours() === 0 ? `${hour}\n${monthDay.format(date)}` : hour;
}

function draw(plot, points, bucket, area, width) {
  const x = points.map((p) => labelSeconds(p[bucket]));
  const data = [x, ...plot.series.map((s) => points.map((p) => p[s.field]))];
  const { seconds, incrs } = BUCKETS[bucket];
  const axis = { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e5e7eb' } };
  const options = {
    width,
    height: 170,
    tzDate: (t) => UPlot.tzDate(new Date(t * 1000), 'Etc/UTC'),
    scales: {
      // Half a bucket either side, so the first and last bars are whole.
      x: { time: true, range: (_u, min, max) => [min - seconds / 2, max + seconds / 2] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { ...axis, incrs, space: 48, values: (_u, splits) => splits.map((t) => tickLabel(t, bucket)) },
      { ...axis, size: 80, values: (_u, splits) => splits.map(plot.axis) },
    ],
    series: [
      { value: (_u, seconds) => (seconds == null ? '' : timeLabel(seconds, bucket)) },
      ...plot.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: s.bars ? `${s.color}cc` : undefined,
        width: s.bars ? 0 : 2,
        paths: s.bars ? bars : undefined,
        points: { show: !s.bars && points.length <= 2 },
        value: (_u, v) => (v == null ? '–' : s.value(v)),
      })),
    ],
    cursor: { y: false },
  };
  return new UPlot(options, data, area);
}

const timeLabel = (seconds, bucket) => {
  const iso = new Date(seconds * 1000).toISOString();
  return bucket === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
};
