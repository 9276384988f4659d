/**
 * One proxied request, owned from start to end by one object, in four steps:
 * - open(): find the alias' routes, resolve a Responses `previous_response_id`, check the key's
 *   monthly budget, admit the request against the key's limits (reserving its prompt plus output cap);
 * - forward(): try the routes in order (each provider account admits its attempt, the route's
 *   dialect writes its body) until one answers; the client's own errors end the trying;
 * - relay(): send that answer on through the route dialect's tap, a Responses answer's record written
 *   before its last byte;
 * - finish(): exactly once, whatever happened: settle the reservations against the real usage,
 *   record usage and cost, observe the metrics, write the request's one log line (docs/contract.md
 *   §7.3, §6.4).
 * Nothing here knows Fastify (routes/proxy.ts adapts its request and reply), so the exchange runs in
 * unit tests with a fake clock and memory stores (test/unit/exchange.test.ts).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { withoutPrompt, type ClientRequest } from './dialects/dialect.js';
import { invalidRequest, modelNotFound, noCredentialedProvider } from './errors.js';
import { ExchangeReport, type ExchangeLog } from './exchange-report.js';
import type { ApiKeyRecord } from './keys/api-key.js';
import { providerRefusal, type AdmissionControl, type RequestEstimate, type Reservation } from './limits/admission.js';
import type { GatewayMetrics } from './observability/metrics.js';
import type { Usage } from './openai/usage.js';
import { PreviousResponse } from './responses/previous-response.js';
import { isStored, responseRecord } from './responses/records.js';
import type { ResponseObject, ResponseStore } from './responses/stored-response.js';
import { ClientGone, type ClientResponse } from './upstream/client-gone.js';
import { FallbackTrail } from './upstream/fallback-trail.js';
import { attemptRoute, type ForwardSuccess, type UpstreamServices } from './upstream/forward.js';
import { downstreamHeaders } from './upstream/headers.js';
import { relayJson, relayStream, type RelayOutcome, type RelaySink } from './upstream/relay.js';
import type { ModelRouter, UpstreamRoute } from './upstream/routing.js';
import { estimateUsage } from './usage/estimate.js';
import type { UsageService } from './usage/usage-service.js';

/** Everything an exchange uses that outlives it, shared by every request. */
export interface ExchangeServices {
  admission: AdmissionControl;
  usage: Pick<UsageService, 'checkBudget' | 'record'>;
  metrics: GatewayMetrics;
  router: ModelRouter;
  upstream: UpstreamServices;
  /** The records of served Responses answers. */
  responses: ResponseStore;
  /** Milliseconds on a monotonic clock (performance.now). */
  now(): number;
}

/** The client's side of the exchange: its HTTP response, seen without Fastify. */
export interface ClientConnection {
  /** Watched for a client that goes away before its answer is complete. */
  readonly response: ClientResponse;
  readonly headers: IncomingHttpHeaders;
  readonly requestId: string;
  readonly log: ExchangeLog;
  /** Headers for whatever answer the client gets, an error included (the key's x-ratelimit-*). */
  setHeaders(headers: Record<string, string>): void;
  send(status: number, headers: OutgoingHttpHeaders, body: Buffer | Readable): void;
  /** The exchange writes this request's completion line itself; the generic one must not. */
  logsItself(): void;
  /** Fields for the generic line of a request that ended in an error (the exchange does not write it). */
  addLogFields(fields: object): void;
}

export class Exchange {
  readonly #services: ExchangeServices;
  #request: ClientRequest;
  readonly #principal: ApiKeyRecord;
  readonly #client: ClientConnection;
  readonly #clientGone: ClientGone;
  readonly #report: ExchangeReport;
  #estimate!: RequestEstimate;
  /** Absent until the key's limits admitted the request. */
  #keyReservation: Reservation | undefined;
  readonly #trail = new FallbackTrail();
  #previous: PreviousResponse | undefined;
  /** Provider accounts that admitted an attempt, by provider name. */
  readonly #providerReservations = new Map<string, Reservation>();
  #finished = false;

  constructor(services: ExchangeServices, request: ClientRequest, principal: ApiKeyRecord, client: ClientConnection) {
    this.#services = services;
    this.#request = request;
    this.#principal = principal;
    this.#client = client;
    this.#clientGone = new ClientGone(client.response);
    this.#report = new ExchangeReport(services, request, principal, client.log);
  }

  get #model(): string {
    return this.#request.body.model;
  }

  /**
   * Runs the request until its answer is on its way (finish() runs when the relay ends). Throws the
   * client's error (budget, limits, every route failed) for the app's error handler to render; the
   * request's line then names the model and every provider tried.
   */
  async run(): Promise<void> {
    let success: ForwardSuccess;
    try {
      success = await this.forward(await this.open());
    } catch (err) {
      this.finish(); // nothing was served: give back what was reserved
      if (!this.#clientGone.gone) {
        this.#client.addLogFields(this.#report.failed(this.#trail.attempts));
        throw err;
      }
      this.#client.logsItself();
      this.#report.clientLeft();
      return;
    }
    this.relay(success);
  }

  /** Throws before anything is reserved, or holds the key's reservation. */
  private async open(): Promise<UpstreamRoute[]> {
    const { admission, usage } = this.#services;
    const routes = this.routes();
    this.#previous = await PreviousResponse.of(this.#request, this.#principal, this.#services.responses);
    this.#estimate = admission.estimate(this.#request.body, this.#request.endpoint);
    await usage.checkBudget(this.#principal);
    this.#keyReservation = await admission.admitKey(this.#principal, this.#model, this.#estimate);
    this.#client.setHeaders(this.#keyReservation.headers);
    return this.#previous?.order(routes) ?? routes;
  }

  /** Unknown aliases and aliases this key may not use look the same. */
  private routes(): UpstreamRoute[] {
    const { router } = this.#services;
    const { endpoint } = this.#request;
    const alias = this.#model;
    const permitted = !this.#principal.models || this.#principal.models.includes(alias);
    const routes = permitted ? router.routes(alias, endpoint) : undefined;
    if (!routes) throw modelNotFound(alias);
    if (routes.length > 0) return routes;
    const uncredentialed = router.uncredentialed(alias, endpoint);
    if (uncredentialed.length > 0) throw noCredentialedProvider(alias, uncredentialed);
    const api = endpoint === 'chat' ? 'Chat Completions' : 'Responses';
    throw invalidRequest(`The model \`${alias}\` is not available on the ${api} API.`, 'model', 'unsupported_endpoint');
  }

  private async forward(routes: UpstreamRoute[]): Promise<ForwardSuccess> {
    const trail = this.#trail;
    for (const route of routes) {
      const request = (await this.#previous?.requestFor(route, this.#request)) ?? this.#request;
      const { body, refusal } = route.dialect.upstreamBody(request, route.model);
      if (refusal) {
        trail.refused({ retryAfterMs: Infinity, error: refusal }); // this provider can never serve it
        continue;
      }
      if (!(await this.admitProvider(route, trail))) continue;
      const started = this.#services.now();
      const attempt = { route, body, clientHeaders: this.#client.headers, signal: this.#clientGone };
      const outcome = await attemptRoute(this.#services.upstream, attempt);
      const ms = this.#services.now() - started;
      if ('response' in outcome) {
        const attempts = trail.answered(route, outcome.response.statusCode, ms);
        return { route, request, response: outcome.response, answer: outcome.answer, attempts, upstreamMs: ms };
      }
      if ('final' in outcome) {
        trail.answered(route, outcome.final.status, ms);
        throw outcome.final; // the client's own error: every route would refuse it
      }
      this.#report.attemptFailed(trail.failed(outcome.failure, ms));
    }
    throw trail.error();
  }

  /** The route's provider account has room (its reservation is kept), or the route is skipped. */
  private async admitProvider(route: UpstreamRoute, trail: FallbackTrail): Promise<boolean> {
    const { admission } = this.#services;
    const { reservation, denial } = await admission.admitProvider(route.providerName, route.provider, this.#estimate);
    if (denial) {
      trail.refused(providerRefusal(denial, this.#model));
      return false;
    }
    this.#providerReservations.set(route.providerName, reservation);
    return true;
  }

  private relay(committed: ForwardSuccess): void {
    const success = this.letGoOfPrompt(committed);
    this.#report.upstreamAnswered(success);
    const { response } = success;
    const headers: OutgoingHttpHeaders = downstreamHeaders(response.headers);
    // The upstream's request id, which the SDK exposes to its caller; the gateway's own when it sent none
    // (docs/wire.md §10.1; docs/contract.md §3.3).
    headers['x-request-id'] = response.headers['x-request-id'] ?? this.#client.requestId;
    this.#client.logsItself();
    const sink: RelaySink = {
      send: (body) => this.#client.send(response.statusCode, headers, body),
      onFirstByte: () => this.#report.firstByte(success),
      onDone: (outcome) => this.finish(success, outcome),
      ...(isStored(this.#request) && { keep: (answer) => this.keep(success, answer) }),
    };
    if (success.answer.kind === 'stream') {
      this.#services.metrics.activeStreams.inc();
      relayStream(success, sink);
    } else {
      relayJson(success, success.answer, sink);
    }
  }

  /**
   * A stream runs for minutes and needs nothing of the prompt any more: the exchange lets go of it (and
   * of the chain's history) so that an open stream holds only the request's parameters. A JSON answer
   * is done at once, and a stored Responses answer keeps its prompt: the record holds its input.
   */
  private letGoOfPrompt(success: ForwardSuccess): ForwardSuccess {
    if (success.answer.kind !== 'stream' || isStored(this.#request)) return success;
    this.#estimate.countPrompt(); // a stream cut short is billed on this count (usageOf)
    this.#request = withoutPrompt(this.#request);
    this.#previous = undefined;
    return { ...success, request: withoutPrompt(success.request) };
  }

  /** Writes the answer's record; a store that fails is logged, and the client still gets its answer. */
  private async keep(success: ForwardSuccess, response: ResponseObject): Promise<void> {
    const { route } = success;
    const served = { request: this.#request, principal: this.#principal, response, provider: route.providerName };
    try {
      await this.#services.responses.put(responseRecord({ ...served, bridged: route.bridged }));
    } catch (err) {
      this.#report.recordFailed(response.id, err);
    }
  }

  /** `success`/`outcome` are absent when no upstream answered (every route failed, the client left). */
  private finish(success?: ForwardSuccess, outcome?: RelayOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    const usage = outcome && outcome.status < 300 ? this.usageOf(outcome) : undefined;
    this.settle(success, usage?.totalTokens ?? 0);
    if (!success || !outcome) return; // the app's error handler answers and logs these
    if (outcome.stream) this.#services.metrics.activeStreams.dec();
    const costUsd = usage ? this.#services.usage.record(this.#principal, this.#model, usage) : 0;
    this.#report.completed(success, outcome, usage, costUsd);
  }

  /** What the upstream reported, or an estimate when it reported nothing (a cut stream). */
  private usageOf(outcome: RelayOutcome): Usage {
    return (
      outcome.usage ??
      estimateUsage(this.#estimate.promptTokens, outcome.streamedText?.() ?? { sample: '', chars: 0 })
    );
  }

  private settle(success: ForwardSuccess | undefined, actualTokens: number): void {
    // No provider account had room for any route: nothing was asked upstream, so the key gets its request back.
    this.#keyReservation?.settle(actualTokens, this.#providerReservations.size === 0);
    for (const [provider, reservation] of this.#providerReservations) {
      reservation.settle(provider === success?.route.providerName ? actualTokens : 0);
    }
  }
}
