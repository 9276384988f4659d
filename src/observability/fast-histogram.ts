/**
 * A Prometheus histogram for observations made on every request, exposed through a prom-client
 * Registry. prom-client's own Histogram builds and validates a label object, sorts the label names
 * into a hash string and finds the bucket by a stringified bound on every observe(), and the proxy
 * observes two or three per request. Here an observation is one Map lookup on the joined label values
 * and a short bucket scan; the exposition is the text prom-client writes for its Histogram.
 */
import type { Metric, Registry } from 'prom-client';
import { labelKey } from './label-key.js';

export interface FastHistogramConfiguration<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, ascending; +Inf is implied. */
  buckets: readonly number[];
  registers: Registry[];
}

interface Series<L extends string> {
  labels: Record<L, string>;
  /** Observations per bucket, not cumulative (made cumulative for the exposition). */
  counts: number[];
  sum: number;
  count: number;
}

type Sample = { metricName: string; labels: Record<string, string | number>; value: number };

export class FastHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly L[];
  readonly #buckets: readonly number[];
  /** Label values joined → the series. */
  readonly #series = new Map<string, Series<L>>();

  constructor(config: FastHistogramConfiguration<L>) {
    this.name = config.name;
    this.help = config.help;
    this.#labelNames = config.labelNames;
    this.#buckets = config.buckets;
    // The Registry formats any object with name, help, type and get(); its types only list prom-client's classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: Record<L, string>, value: number): void {
    if (!Number.isFinite(value)) return; // a metric must never fail the request it measures
    const key = labelKey(this.#labelNames, labels);
    let series = this.#series.get(key);
    if (!series) {
      this.#series.set(
        key,
        (series = { labels: { ...labels }, counts: this.#buckets.map(() => 0), sum: 0, count: 0 }),
      );
    }
    const buckets = this.#buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    if (i < buckets.length) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** What the Registry formats: per series, the cumulative buckets, +Inf, _sum and _count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((le, i) => {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
