/**
 * Usage accounting store: per key, model alias and UTC day. Two implementations behind one
 * interface (memory without Redis, Redis otherwise), exercised by one shared test suite.
 */
import type { Usage } from '../openai/usage.js';

/** One finished request, as the proxy reports it. */
export interface UsageEvent {
  keyId: string;
  model: string;
  at: Date;
  usage: Usage;
  costUsd: number;
}

export interface UsageRow {
  day?: string;
  keyId?: string;
  model?: string;
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** How many of the requests had estimated (not upstream-reported) usage. */
  estimatedRequests: number;
}

export type UsageGrouping = 'day' | 'model' | 'key';

export interface UsageQuery {
  /** Inclusive UTC days, YYYY-MM-DD. */
  from: string;
  to: string;
  keyIds?: string[];
  model?: string;
  /** Without a grouping, one row with the totals. */
  groupBy?: UsageGrouping[];
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
