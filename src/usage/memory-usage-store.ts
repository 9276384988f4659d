/** Usage in process memory: for a single instance without Redis, and for tests. */
import { nanosToUsd } from './cost.js';
import {
  DAY_MS, DEFAULT_RETENTION_DAYS, addCounters, assertMonth, eventCounters, matches, queryDays, toRows, utcDay, utcMonth,
  zeroCounters, type Cell,
} from './usage-cells.js';
import type { UsageEvent, UsageQuery, UsageRow, UsageStore } from './usage-store.js';

export class MemoryUsageStore implements UsageStore {
  /** `<day>|<keyId>|<model>` → cell. */
  readonly #cells = new Map<string, Cell>();
  /** `<keyId>|<YYYY-MM>` → nano-dollars; never pruned (one number per key and month). */
  readonly #spend = new Map<string, number>();
  readonly #retentionDays: number;
  #newestDay = '';

  constructor({ retentionDays = DEFAULT_RETENTION_DAYS }: { retentionDays?: number } = {}) {
    this.#retentionDays = retentionDays;
  }

  record(event: UsageEvent): void {
    const day = utcDay(event.at);
    if (day > this.#newestDay) this.#prune(day);
    const id = `${day}|${event.keyId}|${event.model}`;
    let cell = this.#cells.get(id);
    if (!cell) this.#cells.set(id, (cell = { day, keyId: event.keyId, model: event.model, counters: zeroCounters() }));
    const counters = eventCounters(event);
    addCounters(cell.counters, counters);
    const month = `${event.keyId}|${utcMonth(event.at)}`;
    this.#spend.set(month, (this.#spend.get(month) ?? 0) + counters.costNanos);
  }

  /** Once per new day: drop the days that fell out of retention (relative to the newest day seen, not the clock). */
  #prune(newestDay: string): void {
    this.#newestDay = newestDay;
    const oldest = utcDay(new Date(Date.parse(newestDay) - this.#retentionDays * DAY_MS));
    for (const [id, cell] of this.#cells) if (cell.day < oldest) this.#cells.delete(id);
  }

  async query(q: UsageQuery): Promise<UsageRow[]> {
    const days = new Set(queryDays(q, this.#retentionDays));
    return toRows([...this.#cells.values()].filter((c) => days.has(c.day) && matches(q, c.keyId, c.model)), q.groupBy);
  }

  async monthlySpendUsd(keyId: string, month: string): Promise<number> {
    assertMonth(month);
    return nanosToUsd(this.#spend.get(`${keyId}|${month}`) ?? 0);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
