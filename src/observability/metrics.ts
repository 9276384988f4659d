/**
 * Prometheus metrics. One registry per app (tests build several apps in one process). Labels carry
 * names (route, model alias, provider, tier), never keys or secrets; key names are deliberately not
 * a label either (unbounded cardinality). Counters bumped on every request are summed in plain maps
 * and handed to prom-client when it collects (BatchedCounter, recordUsage); histograms observed on
 * every request count in plain arrays (FastHistogram). (docs/contract.md §14.1)
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TOKEN_COUNTS, type TokenCount, type Usage } from '../openai/usage.js';
import { BatchedCounter } from './batched-counter.js';
import { FastHistogram } from './fast-histogram.js';

/** Upstream answers take from milliseconds (cached, errors) to minutes (long generations). */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** The gateway's own share should stay well under a millisecond. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export class GatewayMetrics {
  /** When these counters started from zero: this instance's start (GET /admin/stats says since when). */
  readonly since = new Date();
  readonly registry = new Registry();
  readonly requests = new BatchedCounter({
    name: 'tollgate_requests_total',
    help: 'Requests answered, by route, model alias, status and tier.',
    labelNames: ['route', 'model', 'status', 'tier'] as const,
    registers: [this.registry],
  });

  readonly upstreamSeconds = new FastHistogram({
    name: 'tollgate_upstream_duration_seconds',
    help: 'Time from sending a request upstream to its response headers.',
    labelNames: ['provider', 'model'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });

  readonly overheadSeconds = new FastHistogram({
    name: 'tollgate_gateway_overhead_seconds',
    help: 'Time the gateway adds before the upstream answer starts flowing (total to first byte minus upstream).',
    labelNames: ['route'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });

  readonly streamFirstByteSeconds = new FastHistogram({
    name: 'tollgate_stream_first_byte_seconds',
    help: 'Time from the request arriving to the first streamed byte reaching the client.',
    labelNames: ['provider', 'model'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });

  /**
   * Token and cost totals per model since the last collect: one map lookup per request instead of five
   * label hashes.
   */
  readonly #usageByModel = new Map<string, ModelUsageTotals>();
  readonly tokens = new Counter({
    name: 'tollgate_tokens_total',
    help: 'Tokens by kind (prompt, cached, completion, reasoning).',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
    collect: drain(this.#usageByModel, (counter, model, totals) => {
      for (const [count, kind] of TOKEN_KINDS) {
        counter.inc({ model, kind }, totals[count]);
        totals[count] = 0;
      }
    }),
  });

  readonly costUsd = new Counter({
    name: 'tollgate_cost_usd_total',
    help: 'Cost in USD from the model pricing.',
    labelNames: ['model'] as const,
    registers: [this.registry],
    collect: drain(this.#usageByModel, (counter, model, totals) => {
      counter.inc({ model }, totals.costUsd);
      totals.costUsd = 0;
    }),
  });

  readonly rateLimited = new Counter({
    name: 'tollgate_rate_limit_rejections_total',
    help: 'Requests refused with 429, by dimension (rpm, rpd, tpm, tpd, budget).',
    labelNames: ['dimension'] as const,
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'tollgate_upstream_errors_total',
    help: 'Failed upstream attempts, by provider and cause (HTTP status or network error code).',
    labelNames: ['provider', 'cause'] as const,
    registers: [this.registry],
  });

  readonly redisErrors = new Counter({
    name: 'tollgate_redis_errors_total',
    help:
      'Redis failures, by component: limits, usage (writes), budget (budget checks), keys (key lookups), ' +
      'responses (stored-response records).',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  readonly activeStreams = new Gauge({
    name: 'tollgate_active_streams',
    help: 'Streams currently being relayed.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_' });
  }

  /** A finished request's tokens and cost, counted under its model alias. */
  recordUsage(model: string, usage: Usage, costUsd: number): void {
    let totals = this.#usageByModel.get(model);
    if (!totals) this.#usageByModel.set(model, (totals = zeroTotals()));
    for (const count of TOKEN_COUNTS) totals[count] += usage[count];
    totals.costUsd += costUsd;
  }
}

/** Each token count with its `kind` label: the count's name without "Tokens" (promptTokens: prompt). */
const TOKEN_KINDS = TOKEN_COUNTS.map((count) => [count, count.slice(0, -'Tokens'.length)] as const);
type ModelUsageTotals = Record<TokenCount | 'costUsd', number>;
const zeroTotals = (): ModelUsageTotals => ({
  promptTokens: 0,
  cachedTokens: 0,
  completionTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
});

/** A collect() that hands each model's totals to `add`, which moves what it reports into the counter. */
function drain<L extends string>(
  byModel: Map<string, ModelUsageTotals>,
  add: (counter: Counter<L>, model: string, totals: ModelUsageTotals) => void,
) {
  return function (this: Counter<L>): void {
    for (const [model, totals] of byModel) add(this, model, totals);
  };
}
