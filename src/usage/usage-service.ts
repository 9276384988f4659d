/**
 * What the proxy calls at the end of a request (record usage and cost) and before it (is the key's
 * monthly budget spent?). Budget checks read the store at most once per key per second per instance;
 * in between, this instance's own spending is added locally.
 */
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { costUsd } from './cost.js';
import { utcMonth } from './usage-cells.js';
import type { UsageStore } from './usage-store.js';
import type { Usage } from './usage.js';

const SPEND_CACHE_MS = 1_000;

export class UsageService {
  private readonly spendCache = new Map<string, { month: string; usd: number; fetchedAt: number }>();

  constructor(
    readonly store: UsageStore,
    private readonly models: Config['models'],
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Records one finished request; returns its cost in USD. Never waits on the store. */
  record(principal: ApiKeyRecord, model: string, provider: string, usage: Usage): number {
    const pricing = this.models[model]?.pricing;
    const cost = pricing ? costUsd(usage, pricing) : 0;
    this.store.record({ keyId: principal.id, model, provider, at: new Date(), usage, costUsd: cost });
    const cached = this.spendCache.get(principal.id);
    if (cached) cached.usd += cost;
    this.metrics.recordUsage(model, usage, cost);
    return cost;
  }

  /** 429 insufficient_quota once the key's budget for this UTC month is spent. */
  async checkBudget(principal: ApiKeyRecord): Promise<void> {
    if (principal.budgetUsd === undefined) return;
    const spent = await this.monthlySpend(principal.id);
    if (spent < principal.budgetUsd) return;
    this.metrics.rateLimited.inc({ dimension: 'budget' });
    throw new GatewayError(
      `You exceeded your current quota, please check your plan and billing details. This key's monthly budget of $${principal.budgetUsd} is spent ($${spent.toFixed(4)} used); it renews on the 1st (UTC).`,
      // Not transient: tell the SDKs not to retry (openai-wire §3.1).
      { status: 429, type: 'insufficient_quota', code: 'insufficient_quota', headers: { 'x-should-retry': 'false' } },
    );
  }

  async monthlySpend(keyId: string, now = new Date()): Promise<number> {
    const month = utcMonth(now);
    const cached = this.spendCache.get(keyId);
    if (cached && cached.month === month && now.getTime() - cached.fetchedAt < SPEND_CACHE_MS) return cached.usd;
    const usd = await this.store.monthlySpendUsd(keyId, month);
    this.spendCache.set(keyId, { month, usd, fetchedAt: now.getTime() });
    return usd;
  }
}
