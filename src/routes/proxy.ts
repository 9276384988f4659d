/**
 * POST /v1/chat/completions and POST /v1/responses: check the body, route the alias, admit it
 * against the key's tier, forward with fallback, relay the answer, then settle once (proxy-outcome).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Endpoint } from '../openai/endpoint.js';
import { invalidRequest, modelNotFound, noCredentialedProvider } from '../errors.js';
import type { JsonMember } from '../openai/json-scan.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import { providerRefusal, type Reservation } from '../limits/admission.js';
import type { AnswerBuffers } from '../upstream/answer-body.js';
import { ClientGone } from '../upstream/client-gone.js';
import { forwardWithFallback, type Attempt, type ForwardSuccess } from '../upstream/forward.js';
import { downstreamHeaders } from '../upstream/headers.js';
import { setJsonMembers } from '../openai/json-members.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { ModelRouter, UpstreamRoute } from '../upstream/routing.js';
import type { SecretRedactor } from '../upstream/secret-redactor.js';
import { finishProxiedRequest, type ProxyContext } from './proxy-outcome.js';
import { checkBody, type ProxyBody } from '../openai/request-body.js';
import { relayJson, relayStream, type RelayOutcome } from '../upstream/relay.js';

export interface ProxyRouteOptions {
  router: ModelRouter;
  pools: UpstreamPools;
  /** Removes provider keys from upstream error messages before they are relayed or logged. */
  providerKeys: SecretRedactor;
  answers: AnswerBuffers;
}

const proxyRoutes: FastifyPluginAsync<ProxyRouteOptions> = async (app, options) => {
  app.post('/chat/completions', (request, reply) => proxy(request, reply, 'chat', options));
  app.post('/responses', (request, reply) => proxy(request, reply, 'responses', options));
};

export default proxyRoutes;

async function proxy(request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint, options: ProxyRouteOptions): Promise<FastifyReply> {
  const started = performance.now();
  const { admission, usage } = request.server;
  const body = checkBody(endpoint, request.body, request.jsonMembers);
  const principal = request.principal!;
  request.modelAlias = body.model;
  const routes = routesFor(options.router, principal, body.model, endpoint);
  const stream = body.stream === true;
  const estimate = admission.estimate(body, endpoint);
  await usage.checkBudget(principal);
  const keyReservation = await admission.admitKey(principal, body.model, estimate);
  reply.headers(keyReservation.headers);

  const providerReservations = new Map<string, Reservation>();
  const context: ProxyContext = { request, endpoint, model: body.model, started, estimate, keyReservation, providerReservations };
  const clientGone = new ClientGone(reply.raw);
  let success;
  try {
    success = await forwardWithFallback({
      routes,
      pools: options.pools,
      clientHeaders: request.headers,
      // checkBody accepts only objects that came through the JSON parser (src/json-body.ts): both are set.
      bodyFor: (route) => upstreamBody(request.jsonBytes!, request.jsonMembers!, body, route, endpoint, stream),
      signal: clientGone,
      providerKeys: options.providerKeys,
      answers: options.answers,
      admitRoute: async (route) => {
        const { reservation, denial } = await admission.admitProvider(route.providerName, route.provider, estimate);
        if (denial) return providerRefusal(denial, body.model);
        providerReservations.set(route.providerName, reservation);
        return undefined;
      },
      onAttemptFailed: (attempt) => noteFailedAttempt(request, attempt),
    });
  } catch (err) {
    finishProxiedRequest(context, undefined, undefined); // refund what was reserved: nothing was served
    if (!clientGone.gone) throw err;
    // The client left before any upstream answered: nobody to answer, nothing to relay.
    request.selfLogged = true;
    request.log.info({ keyName: principal.name, model: body.model, status: 499, totalMs: Math.round(performance.now() - started) }, 'client closed the request before the upstream answered');
    return reply;
  }

  observeUpstream(context, success);
  reply.code(success.response.statusCode).headers(downstreamHeaders(success.response.headers));
  reply.header('x-request-id', success.response.headers['x-request-id'] ?? request.id);
  request.selfLogged = true;
  const relay = {
    endpoint,
    stripUsageChunk: endpoint === 'chat' && stream && body.stream_options?.include_usage !== true,
    onFirstByte: () => request.server.metrics.streamFirstByteSeconds.observe({ provider: success.route.providerName, model: body.model }, (performance.now() - started) / 1000),
    onDone: (outcome: RelayOutcome) => finishProxiedRequest(context, success, outcome),
  };
  if (success.answer.kind === 'stream') {
    request.server.metrics.activeStreams.inc();
    relayStream(reply, success.response, relay);
  } else {
    relayJson(reply, success.response, success.answer, relay);
  }
  return reply;
}

/** Unknown aliases and aliases this key may not use look the same. */
function routesFor(router: ModelRouter, principal: ApiKeyRecord, alias: string, endpoint: Endpoint): UpstreamRoute[] {
  const permitted = !principal.models || principal.models.includes(alias);
  const routes = permitted ? router.routes(alias, endpoint) : undefined;
  if (!routes) throw modelNotFound(alias);
  if (routes.length === 0 && router.uncredentialed(alias, endpoint).length > 0) {
    throw noCredentialedProvider(alias, router.uncredentialed(alias, endpoint));
  }
  if (routes.length === 0) {
    throw invalidRequest(`The model \`${alias}\` is not available on the ${endpoint === 'chat' ? 'Chat Completions' : 'Responses'} API.`, 'model', 'unsupported_endpoint');
  }
  return routes;
}

/** The client's body bytes with the provider's model id; chat streams always ask for the usage chunk. */
function upstreamBody(json: Buffer, present: JsonMember[], body: ProxyBody, route: UpstreamRoute, endpoint: Endpoint, stream: boolean): Buffer {
  const members: Record<string, string> = { model: JSON.stringify(route.model) };
  if (endpoint === 'chat' && stream) members.stream_options = JSON.stringify({ ...body.stream_options, include_usage: true });
  return setJsonMembers(json, members, present);
}

/** Upstream latency, and the gateway's own share of the time to the upstream's answer. */
function observeUpstream(context: ProxyContext, success: ForwardSuccess): void {
  const { metrics } = context.request.server;
  const upstreamTotalMs = success.attempts.reduce((sum, attempt) => sum + attempt.ms, 0);
  metrics.upstreamSeconds.observe({ provider: success.route.providerName, model: context.model }, success.upstreamMs / 1000);
  metrics.overheadSeconds.observe({ route: context.endpoint }, Math.max(0, performance.now() - context.started - upstreamTotalMs) / 1000);
}

function noteFailedAttempt(request: FastifyRequest, attempt: Attempt): void {
  request.server.metrics.upstreamErrors.inc({ provider: attempt.provider, cause: attempt.cause ?? String(attempt.status) });
  const refused = attempt.status === 401 || attempt.status === 403;
  const message = refused ? 'upstream refused the provider credential; check its apiKey' : 'upstream attempt failed; trying the next route';
  // `upstreamMessage` is already redacted of provider keys (and the log line is again, as a whole).
  const fields = { provider: attempt.provider, status: attempt.status, cause: attempt.cause, upstreamMessage: attempt.message };
  request.log[refused ? 'error' : 'warn'](fields, message);
}
