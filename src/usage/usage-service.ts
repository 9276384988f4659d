/**
 * What the proxy calls at the end of a request (record usage and cost) and before it (is the key's
 * monthly budget spent?). Budget checks read the store at most once per key per second per instance;
 * in between, this instance's own spending is added locally.
 *
 * When the store cannot answer a budget check (Redis down or stalled), failMode decides:
 * - 'open': the check goes on from the last spend this instance read for the key, plus what it has
 *   spent here since; a key it never read starts from zero, so it is let through until its local spend
 *   alone reaches the budget (its spend elsewhere is unknown). The store is asked again a second later.
 * - 'closed': 503 at once.
 * Either way onBudgetFallback hears of it. (docs/contract.md §8, §10.1)
 */
import type { Config } from '../config.js';
import { insufficientQuota, StoreUnavailableError } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import { costUsd } from './cost.js';
import { utcMonth } from './usage-cells.js';
import type { UsageStore } from './usage-store.js';
import type { Usage } from '../openai/usage.js';

const SPEND_CACHE_MS = 1_000;

export interface BudgetFallback {
  keyId: string;
  /** The spend the check went on with; undefined when this instance knows none this month (open: from zero). */
  lastKnownUsd: number | undefined;
  /** Closed mode: the request was refused with a 503. */
  refused: boolean;
}

export interface UsageServiceOptions {
  failMode: 'open' | 'closed';
  /** Every recorded request (metrics count tokens and cost by model). */
  onRecorded?: (model: string, usage: Usage, costUsd: number) => void;
  /** Every request refused because its key's budget is spent. */
  onBudgetExceeded?: () => void;
  /** Every budget check the store could not answer; throttle any logging yourself. */
  onBudgetFallback?: (err: unknown, fallback: BudgetFallback) => void;
}

interface CachedSpend {
  month: string;
  usd: number;
  fetchedAt: number;
}

export class UsageService {
  private readonly spendCache = new Map<string, CachedSpend>();

  constructor(
    readonly store: UsageStore,
    private readonly models: Config['models'],
    private readonly options: UsageServiceOptions = { failMode: 'open' },
  ) {}

  /** Records one finished request; returns its cost in USD. Never waits on the store. */
  record(principal: ApiKeyRecord, model: string, usage: Usage): number {
    const pricing = this.models[model]?.pricing;
    const cost = pricing ? costUsd(usage, pricing) : 0;
    this.store.record({ keyId: principal.id, model, at: new Date(), usage, costUsd: cost });
    const cached = this.spendCache.get(principal.id);
    if (cached) cached.usd += cost;
    this.options.onRecorded?.(model, usage, cost);
    return cost;
  }

  /** 429 insufficient_quota once the key's budget for this UTC month is spent. */
  async checkBudget(principal: ApiKeyRecord): Promise<void> {
    if (principal.budgetUsd === undefined) return;
    const spent = await this.budgetSpend(principal.id);
    if (spent < principal.budgetUsd) return;
    this.options.onBudgetExceeded?.();
    throw insufficientQuota(principal.budgetUsd, spent);
  }

  /** The key's spend this month; rejects with StoreUnavailableError when the store cannot answer. */
  async monthlySpend(keyId: string, now = new Date()): Promise<number> {
    const month = utcMonth(now);
    const cached = this.spendCache.get(keyId);
    if (cached && cached.month === month && now.getTime() - cached.fetchedAt < SPEND_CACHE_MS) return cached.usd;
    const usd = await this.store.monthlySpendUsd(keyId, month);
    this.spendCache.set(keyId, { month, usd, fetchedAt: now.getTime() });
    return usd;
  }

  /** monthlySpend, or what failMode says when the store cannot answer (see the header). */
  private async budgetSpend(keyId: string, now = new Date()): Promise<number> {
    try {
      return await this.monthlySpend(keyId, now);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const refused = this.options.failMode === 'closed';
      const known = this.spendCache.get(keyId);
      const lastKnownUsd = known?.month === utcMonth(now) ? known.usd : undefined;
      this.options.onBudgetFallback?.(err, { keyId, lastKnownUsd, refused });
      if (refused) throw err; // rendered as a 503
      // Until the next read a second from now: a dead Redis is not asked on every request.
      const fallback = { month: utcMonth(now), usd: lastKnownUsd ?? 0, fetchedAt: now.getTime() };
      this.spendCache.set(keyId, fallback);
      return fallback.usd;
    }
  }
}
