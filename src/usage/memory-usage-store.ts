/** Usage in process memory: for a single instance without Redis, and for tests. */
import { nanosToUsd } from './cost.js';
import {
  DAY_MS, DEFAULT_HOURLY_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, addCounters, assertMonth, eventCounters, isHourly,
  matches, queryDays, toRows, utcDay, utcHour, utcMonth, zeroCounters, type Cell, type Counters, type Retention,
} from './usage-cells.js';
import type { UsageEvent, UsageQuery, UsageRow, UsageStore } from './usage-store.js';

export interface MemoryUsageStoreOptions {
  retentionDays?: number;
  hourlyRetentionDays?: number;
}

export class MemoryUsageStore implements UsageStore {
  /** `<day>|<keyId>|<model>` → cell. */
  readonly #cells = new Map<string, Cell>();
  /** `<YYYY-MM-DDTHH>|<keyId>|<model>` → cell. */
  readonly #hourCells = new Map<string, Cell>();
  /** `<keyId>|<YYYY-MM>` → nano-dollars; never pruned (one number per key and month). */
  readonly #spend = new Map<string, number>();
  readonly #retention: Retention;
  #newestDay = '';

  constructor({
    retentionDays = DEFAULT_RETENTION_DAYS,
    hourlyRetentionDays = DEFAULT_HOURLY_RETENTION_DAYS,
  }: MemoryUsageStoreOptions = {}) {
    this.#retention = { days: retentionDays, hourlyDays: hourlyRetentionDays };
  }

  record(event: UsageEvent): void {
    const day = utcDay(event.at);
    const hour = utcHour(event.at);
    if (day > this.#newestDay) this.#prune(day);
    const counters = eventCounters(event);
    add(this.#cells, `${day}|${event.keyId}|${event.model}`, { day, keyId: event.keyId, model: event.model }, counters);
    const hourCell = { day, hour, keyId: event.keyId, model: event.model };
    add(this.#hourCells, `${hour}|${event.keyId}|${event.model}`, hourCell, counters);
    const month = `${event.keyId}|${utcMonth(event.at)}`;
    this.#spend.set(month, (this.#spend.get(month) ?? 0) + counters.costNanos);
  }

  /**
   * Once per new day: drop the days (and hours) that fell out of their retention, relative to the
   * newest day seen, not the clock.
   */
  #prune(newestDay: string): void {
    this.#newestDay = newestDay;
    const kept = [[this.#cells, this.#retention.days], [this.#hourCells, this.#retention.hourlyDays]] as const;
    for (const [cells, days] of kept) {
      const oldest = utcDay(new Date(Date.parse(newestDay) - days * DAY_MS));
      for (const [id, cell] of cells) if (cell.day < oldest) cells.delete(id);
    }
  }

  async query(q: UsageQuery): Promise<UsageRow[]> {
    const days = new Set(queryDays(q, this.#retention));
    const cells = isHourly(q) ? this.#hourCells : this.#cells;
    return toRows([...cells.values()].filter((c) => days.has(c.day) && matches(q, c.keyId, c.model)), q);
  }

  async monthlySpendUsd(keyId: string, month: string): Promise<number> {
    assertMonth(month);
    return nanosToUsd(this.#spend.get(`${keyId}|${month}`) ?? 0);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

function add(cells: Map<string, Cell>, id: string, dims: Omit<Cell, 'counters'>, counters: Counters): void {
  let cell = cells.get(id);
  if (!cell) cells.set(id, (cell = { ...dims, counters: zeroCounters() }));
  addCounters(cell.counters, counters);
}
