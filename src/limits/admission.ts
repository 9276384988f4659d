/**
 * Admission control: turns a key's tier into limiter rules, reserves prompt + output-cap tokens
 * before the upstream call, and settles the difference to the real usage exactly once afterwards.
 * Provider accounts get the same treatment, shared by every key. (docs/contract.md §6.3, §6.4, §6.7)
 */
import type { Config, ProviderConfig } from '../config.js';
import type { Endpoint } from '../openai/endpoint.js';
import { limiterUnavailable, providerRateLimited, rateLimited, type RouteRefusal } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import type { ProxyBody } from '../openai/request-body.js';
import { LimiterUnavailableError } from './failover-limiter.js';
import { rateLimitHeaders } from './headers.js';
import { SettlementQueue } from './settlement-queue.js';
import type { Admission, Denial, Dimension, LimitRule, Limiter } from './limiter.js';
import { estimatePromptTokens, outputCap } from '../openai/prompt-tokens.js';

const TOKEN_DIMENSIONS = new Set<Dimension>(['tpm', 'tpd']);

/** A reservation taken at admission; settle it once (the exchange's finish()) with the request's real token total. */
export interface Reservation {
  headers: Record<string, string>;
  /**
   * Real total tokens (0 when the upstream charged nothing, e.g. it failed). `untried`: no upstream
   * was even asked (every route's provider account was out of room), so the request units go back too.
   */
  settle(actualTokens: number, untried?: boolean): void;
}

/** A provider account either admits the attempt (a reservation to settle) or is out of room. */
export type ProviderAdmission =
  { reservation: Reservation; denial?: undefined } | { reservation?: undefined; denial: Denial };

const NOTHING_RESERVED: Reservation = { headers: {}, settle: () => {} };

/** What a limit charges: one request, and `totalTokens` on the token dimensions when `chargesTokens`. */
export interface AdmissionEstimate {
  readonly totalTokens: number;
  readonly chargesTokens: boolean;
}

/**
 * One request and no tokens (the Responses sub-resources, issue 14 item 7): the key's token limits are
 * neither checked nor charged, so its headers carry the requests trio only, and settling it changes nothing.
 */
export const REQUEST_ONLY: AdmissionEstimate = { totalTokens: 0, chargesTokens: false };

/**
 * Tokens a request reserves. The prompt is tokenized only when something needs the count (a token
 * limit, or a cut stream's usage estimate), and then once; the body is let go of once counted.
 */
export class RequestEstimate implements AdmissionEstimate {
  readonly chargesTokens = true;
  #promptTokens: number | undefined;
  #body: ProxyBody | undefined;

  constructor(
    body: ProxyBody,
    private readonly endpoint: Endpoint,
    readonly outputCap: number,
  ) {
    this.#body = body;
  }

  get promptTokens(): number {
    return this.#promptTokens ?? this.#count();
  }

  /** Counts the prompt now if nothing has yet: a stream about to let go of its prompt (Exchange.relay). */
  countPrompt(): void {
    if (this.#promptTokens === undefined) this.#count();
  }

  #count(): number {
    this.#promptTokens = estimatePromptTokens(this.#body, this.endpoint);
    this.#body = undefined;
    return this.#promptTokens;
  }

  get totalTokens(): number {
    return this.promptTokens + this.outputCap;
  }
}

type Limits = Partial<Record<Dimension, number>>;

export class AdmissionControl {
  private readonly settlements: SettlementQueue;

  constructor(
    private readonly limiter: Limiter,
    private readonly config: Config,
    private readonly events: { onDenied(dimension: Dimension): void; onSettleError(err: unknown): void },
  ) {
    this.settlements = new SettlementQueue(limiter, events.onSettleError);
  }

  /** Applies queued settlements, then closes the limiter. */
  async close(): Promise<void> {
    await this.settlements.flush();
    await this.limiter.close();
  }

  /** What a request reserves: its prompt (o200k_base) plus the most it may generate. */
  estimate(body: ProxyBody, endpoint: Endpoint): RequestEstimate {
    const cap = outputCap(
      body,
      this.config.limits.defaultOutputTokens,
      this.config.models[body.model]?.maxOutputTokens,
    );
    return new RequestEstimate(body, endpoint, cap);
  }

  /** Per key and model alias; throws the OpenAI-shaped 429 when any dimension lacks room. */
  async admitKey(principal: ApiKeyRecord, alias: string, estimate: AdmissionEstimate): Promise<Reservation> {
    const limits = this.config.tiers[principal.tier] ?? {};
    const subject = `key:${principal.id}:${alias}`;
    const rules = toRules(limits, estimate);
    if (rules.length === 0) return NOTHING_RESERVED;
    const admission = await this.admit(subject, rules);
    const headers = rateLimitHeaders(admission.buckets);
    if (!admission.allowed) {
      this.events.onDenied(admission.denial!.dimension);
      throw rateLimited(admission.denial!, alias, headers);
    }
    return { headers, settle: this.settler(subject, limits, estimate) };
  }

  /** Per provider account (its own tier upstream): a denial means skip this route for now. */
  async admitProvider(name: string, provider: ProviderConfig, estimate: RequestEstimate): Promise<ProviderAdmission> {
    const limits = provider.limits ?? {};
    const subject = `provider:${name}`;
    const rules = toRules(limits, estimate);
    if (rules.length === 0) return { reservation: NOTHING_RESERVED };
    const admission = await this.admit(subject, rules);
    return admission.allowed
      ? { reservation: { headers: {}, settle: this.settler(subject, limits, estimate) } }
      : { denial: admission.denial! };
  }

  /** A dead store in fail-closed mode (redis.failMode: closed) answers 503, not 500 (docs/contract.md §10.1). */
  private async admit(subject: string, rules: LimitRule[]): Promise<Admission> {
    const carrying = this.withCarry(subject, rules);
    try {
      return await this.limiter.admit(subject, carrying);
    } catch (err) {
      // The store refused (fail-closed): keep the settlements for a later call rather than lose them.
      for (const rule of carrying) {
        if (rule.carry) {
          this.settlements.add(subject, [{ dimension: rule.dimension, limit: rule.limit, delta: rule.carry }]);
        }
      }
      if (err instanceof LimiterUnavailableError) throw limiterUnavailable();
      throw err;
    }
  }

  /** Queued settlements of the subject ride along as `carry`; any for a dimension no rule has go on their own. */
  private withCarry(subject: string, rules: LimitRule[]): LimitRule[] {
    const pending = this.settlements.take(subject);
    if (!pending) return rules;
    const carried = rules.map((rule) => {
      const settlement = pending.get(rule.dimension);
      pending.delete(rule.dimension);
      return settlement ? { ...rule, carry: settlement.delta } : rule;
    });
    if (pending.size > 0) void this.settlements.send(subject, pending);
    return carried;
  }

  private settler(subject: string, limits: Limits, estimate: AdmissionEstimate): Reservation['settle'] {
    return (actual, untried = false) => {
      let delta: number | undefined; // read only for token tiers: it needs the prompt count
      const adjustments = [];
      for (const dimension of DIMENSIONS) {
        const limit = limits[dimension];
        if (limit === undefined) continue;
        if (TOKEN_DIMENSIONS.has(dimension)) {
          if (!estimate.chargesTokens) continue;
          delta ??= actual - estimate.totalTokens;
          if (delta) adjustments.push({ dimension, limit, delta });
        } else if (untried) {
          adjustments.push({ dimension, limit, delta: -1 });
        }
      }
      // An exact reservation of a request that was tried leaves nothing to settle.
      if (adjustments.length > 0) this.settlements.add(subject, adjustments);
    };
  }
}

/**
 * A route skipped because its provider account is out of room. forwardWithFallback answers with the
 * refusal that ends soonest when no route was left to try; a too-large one only if all are.
 */
export function providerRefusal(denial: Denial, alias: string): RouteRefusal {
  return { retryAfterMs: denial.tooLarge ? Infinity : denial.retryAfterMs, error: providerRateLimited(denial, alias) };
}

const DIMENSIONS: readonly Dimension[] = ['rpm', 'rpd', 'tpm', 'tpd'];

function toRules(limits: Limits, estimate: AdmissionEstimate): LimitRule[] {
  const rules: LimitRule[] = [];
  for (const dimension of DIMENSIONS) {
    const limit = limits[dimension];
    const tokens = TOKEN_DIMENSIONS.has(dimension);
    if (limit !== undefined && (!tokens || estimate.chargesTokens)) {
      rules.push({ dimension, limit, cost: tokens ? estimate.totalTokens : 1 });
    }
  }
  return rules;
}
