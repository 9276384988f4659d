/**
 * A prom-client Counter whose increments are summed in a plain Map and handed over when the registry
 * collects (a scrape). prom-client hashes the label object, sorting its keys, on every inc(); a
 * counter bumped on every request (tollgate_requests_total) goes through here instead.
 */
import { Counter, type CounterConfiguration } from 'prom-client';
import { labelKey } from './label-key.js';

export class BatchedCounter<L extends string> {
  readonly counter: Counter<L>;
  readonly #labelNames: readonly L[];
  /** Label values joined → the labels and what was added since the last collect. */
  readonly #pending = new Map<string, { labels: Record<L, string>; value: number }>();

  constructor(config: CounterConfiguration<L> & { labelNames: readonly L[] }) {
    this.#labelNames = config.labelNames;
    const pending = this.#pending;
    this.counter = new Counter<L>({
      ...config,
      collect() {
        for (const { labels, value } of pending.values()) this.inc(labels, value);
        pending.clear();
      },
    });
  }

  inc(labels: Record<L, string>, value = 1): void {
    if (!(value >= 0)) throw new RangeError(`a counter only goes up, not by ${value}`);
    const key = labelKey(this.#labelNames, labels);
    const entry = this.#pending.get(key);
    if (entry) entry.value += value;
    else this.#pending.set(key, { labels, value });
  }
}
