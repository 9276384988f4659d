/**
 * POST /v1/chat/completions and POST /v1/responses: check the body, route the alias, forward with
 * fallback, relay the answer, then report the outcome (usage, timings) once.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Endpoint } from '../config.js';
import { invalidRequest, modelNotFound } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import { forwardWithFallback, type Attempt, type ForwardSuccess } from '../upstream/forward.js';
import { downstreamHeaders } from '../upstream/headers.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { ModelRouter, UpstreamRoute } from '../upstream/routing.js';
import { checkBody, type ProxyBody } from './request-body.js';
import { isEventStream, relayJson, relayStream, type RelayOutcome } from './relay.js';

export interface ProxyRouteOptions {
  router: ModelRouter;
  pools: UpstreamPools;
}

const proxyRoutes: FastifyPluginAsync<ProxyRouteOptions> = async (app, options) => {
  app.post('/chat/completions', (request, reply) => proxy(request, reply, 'chat', options));
  app.post('/responses', (request, reply) => proxy(request, reply, 'responses', options));
};

export default proxyRoutes;

async function proxy(request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint, options: ProxyRouteOptions): Promise<FastifyReply> {
  const started = performance.now();
  const body = checkBody(endpoint, request.body);
  const principal = request.principal!;
  const routes = routesFor(options.router, principal, body.model, endpoint);
  const stream = body.stream === true;
  const abort = abortOnClientClose(reply);

  const success = await forwardWithFallback({
    routes,
    pools: options.pools,
    clientHeaders: request.headers,
    bodyFor: (route) => JSON.stringify(upstreamBody(body, route, endpoint, stream)),
    signal: abort.signal,
    onAttemptFailed: (attempt) => logFailedAttempt(request, attempt),
  });

  reply.code(success.response.statusCode).headers(downstreamHeaders(success.response.headers));
  reply.header('x-request-id', success.response.headers['x-request-id'] ?? request.id);
  const relay = {
    endpoint,
    stripUsageChunk: endpoint === 'chat' && stream && body.stream_options?.include_usage !== true,
    onDone: (outcome: RelayOutcome) => logOutcome(request, body.model, success, outcome, started),
  };
  if (isEventStream(success.response) && success.response.statusCode < 300) relayStream(reply, success.response, relay);
  else await relayJson(reply, success.response, relay);
  return reply;
}

/** Unknown aliases and aliases this key may not use look the same (DESIGN §3). */
function routesFor(router: ModelRouter, principal: ApiKeyRecord, alias: string, endpoint: Endpoint): UpstreamRoute[] {
  const permitted = !principal.models || principal.models.includes(alias);
  const routes = permitted ? router.routes(alias, endpoint) : undefined;
  if (!routes) throw modelNotFound(alias);
  if (routes.length === 0) {
    throw invalidRequest(`The model \`${alias}\` is not available on the ${endpoint === 'chat' ? 'Chat Completions' : 'Responses'} API.`, 'model', 'unsupported_endpoint');
  }
  return routes;
}

/** The client's body with the provider's model id; chat streams always ask for the usage chunk. */
function upstreamBody(body: ProxyBody, route: UpstreamRoute, endpoint: Endpoint, stream: boolean): ProxyBody {
  const rewritten: ProxyBody = { ...body, model: route.model };
  if (endpoint === 'chat' && stream) rewritten.stream_options = { ...body.stream_options, include_usage: true };
  return rewritten;
}

function abortOnClientClose(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}

function logFailedAttempt(request: FastifyRequest, attempt: Attempt): void {
  const refused = attempt.status === 401 || attempt.status === 403;
  const message = refused ? 'upstream refused the provider credential; check its apiKey' : 'upstream attempt failed; trying the next route';
  request.log[refused ? 'error' : 'warn']({ provider: attempt.provider, status: attempt.status, cause: attempt.cause }, message);
}

function logOutcome(request: FastifyRequest, model: string, success: ForwardSuccess, outcome: RelayOutcome, started: number): void {
  request.log.info(
    {
      key: request.principal?.name,
      model,
      provider: success.route.providerName,
      status: success.response.statusCode,
      stream: outcome.stream,
      completed: outcome.completed,
      upstreamMs: Math.round(success.upstreamMs),
      totalMs: Math.round(performance.now() - started),
      attempts: success.attempts.length,
      usage: outcome.usage,
    },
    'request completed',
  );
}
