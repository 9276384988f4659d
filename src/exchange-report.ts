/**
 * What an exchange tells operators about its request: latency histograms, failed-attempt counts and
 * log lines, and the request's one completion line (with usage and cost). Times come from the
 * services' clock, read from the moment the exchange began.
 */
import type { ClientRequest } from './dialects/dialect.js';
import type { GatewayMetrics } from './observability/metrics.js';
import type { ApiKeyRecord } from './keys/api-key.js';
import type { Endpoint } from './openai/endpoint.js';
import type { Usage } from './openai/usage.js';
import type { Attempt } from './upstream/fallback-trail.js';
import type { ForwardSuccess } from './upstream/forward.js';
import type { RelayOutcome } from './upstream/relay.js';

/** The pino-style logger of the request (its lines carry the request id). */
export interface ExchangeLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The services the report uses: the metrics and the exchange's clock (ms, monotonic). */
interface ReportServices {
  metrics: GatewayMetrics;
  now(): number;
}

export class ExchangeReport {
  readonly #started: number;
  /** Only these two of the request: a stream's report outlives its prompt (Exchange.relay). */
  readonly #endpoint: Endpoint;
  readonly #model: string;

  constructor(
    private readonly services: ReportServices,
    request: ClientRequest,
    private readonly principal: ApiKeyRecord,
    private readonly log: ExchangeLog,
  ) {
    this.#started = services.now();
    this.#endpoint = request.endpoint;
    this.#model = request.body.model;
  }

  /** Upstream latency, and the gateway's own share of the time to the upstream's answer. */
  upstreamAnswered(success: ForwardSuccess): void {
    const { metrics } = this.services;
    const upstreamTotalMs = success.attempts.reduce((sum, attempt) => sum + attempt.ms, 0);
    metrics.upstreamSeconds.observe(
      { provider: success.route.providerName, model: this.#model },
      success.upstreamMs / 1000,
    );
    const overheadMs = Math.max(0, this.elapsed() - upstreamTotalMs);
    metrics.overheadSeconds.observe({ route: this.#endpoint }, overheadMs / 1000);
  }

  firstByte(success: ForwardSuccess): void {
    const labels = { provider: success.route.providerName, model: this.#model };
    this.services.metrics.streamFirstByteSeconds.observe(labels, this.elapsed() / 1000);
  }

  attemptFailed(attempt: Attempt): void {
    this.services.metrics.upstreamErrors.inc({
      provider: attempt.provider,
      cause: attempt.cause ?? String(attempt.status),
    });
    const refused = attempt.status === 401 || attempt.status === 403;
    const message = refused
      ? 'upstream refused the provider credential; check its apiKey'
      : 'upstream attempt failed; trying the next route';
    // `upstreamMessage` is already redacted of provider keys (and the log line is again, as a whole).
    const fields = {
      provider: attempt.provider,
      status: attempt.status,
      cause: attempt.cause,
      upstreamMessage: attempt.message,
    };
    this.log[refused ? 'error' : 'warn'](fields, message);
  }

  /** The answer still reaches the client; a follow-up naming it will not find it (docs/contract.md §5.6). */
  recordFailed(responseId: string, err: unknown): void {
    this.log.error({ err, responseId }, 'the stored-response record could not be written');
  }

  /**
   * What the generic line of a request that ended in an error adds (plugins/request-log.ts writes it,
   * with the error's status, code and reason): which key and model, and every provider tried, in order.
   */
  failed(attempts: readonly Attempt[]): object {
    return {
      keyId: this.principal.id,
      model: this.#model,
      endpoint: this.#endpoint,
      ...(attempts.length > 0 && { attempts: attempts.length, providers: attempts.map((a) => a.provider) }),
    };
  }

  /** The client left before any upstream answered: nobody to answer, nothing to relay. */
  clientLeft(): void {
    const fields = {
      keyName: this.principal.name,
      model: this.#model,
      status: 499,
      totalMs: Math.round(this.elapsed()),
    };
    this.log.info(fields, 'client closed the request before the upstream answered');
  }

  completed(success: ForwardSuccess, outcome: RelayOutcome, usage: Usage | undefined, costUsd: number): void {
    const fields = {
      keyName: this.principal.name,
      keyId: this.principal.id,
      model: this.#model,
      provider: success.route.providerName,
      endpoint: this.#endpoint,
      status: outcome.status,
      stream: outcome.stream,
      completed: outcome.completed,
      attempts: success.attempts.length,
      upstreamMs: Math.round(success.upstreamMs),
      totalMs: Math.round(this.elapsed()),
      ...(usage && { usage, costUsd }),
    };
    this.log.info(fields, 'request completed');
  }

  private elapsed(): number {
    return this.services.now() - this.#started;
  }
}
