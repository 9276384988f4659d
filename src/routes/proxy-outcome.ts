/**
 * The end of every proxied request, called exactly once: settle the rate-limit reservations against
 * the real usage, record usage and cost, observe metrics, and write the request's one log line.
 */
import type { FastifyRequest } from 'fastify';
import type { Endpoint } from '../openai/endpoint.js';
import type { RequestEstimate, Reservation } from '../limits/admission.js';
import type { ForwardSuccess } from '../upstream/forward.js';
import { estimateUsage } from '../usage/estimate.js';
import type { Usage } from '../openai/usage.js';
import type { RelayOutcome } from '../upstream/relay.js';

export interface ProxyContext {
  request: FastifyRequest;
  endpoint: Endpoint;
  model: string;
  started: number;
  estimate: RequestEstimate;
  keyReservation: Reservation;
  /** Provider accounts that admitted an attempt, by provider name. */
  providerReservations: Map<string, Reservation>;
}

/** `success`/`outcome` are undefined when no upstream answered (all routes failed, client left). */
export function finishProxiedRequest(ctx: ProxyContext, success: ForwardSuccess | undefined, outcome: RelayOutcome | undefined): void {
  const served = outcome !== undefined && outcome.status < 300;
  const usage = served ? (outcome.usage ?? estimateUsage(ctx.estimate.promptTokens, outcome.streamedText?.() ?? { sample: '', chars: 0 })) : undefined;
  const actualTokens = usage?.totalTokens ?? 0;
  // No provider account had room for any route: nothing was asked upstream, so the key gets its request back.
  ctx.keyReservation.settle(actualTokens, ctx.providerReservations.size === 0);
  for (const [provider, reservation] of ctx.providerReservations) {
    reservation.settle(provider === success?.route.providerName ? actualTokens : 0);
  }
  if (!success || !outcome) return; // the error handler answers and logs these
  const { request } = ctx;
  if (outcome.stream) request.server.metrics.activeStreams.dec();
  const costUsd = usage ? request.server.usage.record(request.principal!, ctx.model, usage) : 0;
  logLine(ctx, success, outcome, usage, costUsd);
}

function logLine(ctx: ProxyContext, success: ForwardSuccess, outcome: RelayOutcome, usage: Usage | undefined, costUsd: number): void {
  ctx.request.log.info(
    {
      keyName: ctx.request.principal?.name,
      keyId: ctx.request.principal?.id,
      model: ctx.model,
      provider: success.route.providerName,
      endpoint: ctx.endpoint,
      status: outcome.status,
      stream: outcome.stream,
      completed: outcome.completed,
      attempts: success.attempts.length,
      upstreamMs: Math.round(success.upstreamMs),
      totalMs: Math.round(performance.now() - ctx.started),
      ...(usage && { usage, costUsd }),
    },
    'request completed',
  );
}
