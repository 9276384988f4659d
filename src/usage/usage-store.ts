/**
 * Usage accounting store: per key, model alias and UTC day, and per key, alias and UTC hour for the
 * last `usage.hourlyRetentionDays` (every event lands in both, in one write). Two implementations
 * behind one interface (memory without Redis, Redis otherwise), exercised by one shared test suite.
 */
import { TOKEN_COUNTS, type Usage } from '../openai/usage.js';

/** One finished request, as the proxy reports it. */
export interface UsageEvent {
  keyId: string;
  model: string;
  at: Date;
  usage: Usage;
  costUsd: number;
}

/**
 * A row's counters, in the order the admin API's CSV and the CLI's table show them. estimatedRequests:
 * how many of the requests had estimated (not upstream-reported) usage.
 */
export const USAGE_ROW_COUNTERS = ['requests', ...TOKEN_COUNTS, 'costUsd', 'estimatedRequests'] as const;

/** The counters of the cells in one group; only the dimensions grouped by are present. */
export interface UsageRow extends Record<(typeof USAGE_ROW_COUNTERS)[number], number> {
  /** The hour's start, `YYYY-MM-DDTHH:00:00Z`. */
  hour?: string;
  day?: string;
  keyId?: string;
  /** null: the key has no team (or is unknown). */
  team?: string | null;
  model?: string;
}

/** `hour` reads the hourly cells, anything else the daily ones; `team` needs UsageQuery.teamOf. */
export type UsageGrouping = 'hour' | 'day' | 'model' | 'key' | 'team';

export interface UsageQuery {
  /** Inclusive UTC days, YYYY-MM-DD. */
  from: string;
  to: string;
  keyIds?: string[];
  model?: string;
  /** Without a grouping, one row with the totals. */
  groupBy?: UsageGrouping[];
  /** A key's team, for grouping by team (the stores know keys by id only); undefined: no team. */
  teamOf?: (keyId: string) => string | undefined;
}

export interface UsageStore {
  /** Never awaited on the request path: writes are pipelined in the background. */
  record(event: UsageEvent): void;
  query(query: UsageQuery): Promise<UsageRow[]>;
  /** USD spent by a key in a UTC calendar month (YYYY-MM), for budgets. */
  monthlySpendUsd(keyId: string, month: string): Promise<number>;
  /** Resolves when every recorded event has been written (shutdown, tests). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
