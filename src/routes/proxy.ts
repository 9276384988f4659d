/**
 * POST /v1/chat/completions and POST /v1/responses: the body is checked, then one Exchange
 * (src/exchange.ts) owns the request: budget, limits, routes, fallback, relay, usage, its log line.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Exchange, type ClientConnection, type ExchangeServices } from '../exchange.js';
import type { Endpoint } from '../openai/endpoint.js';
import { checkBody } from '../openai/request-body.js';

const proxyRoutes: FastifyPluginAsync<{ services: ExchangeServices }> = async (app, { services }) => {
  app.post('/chat/completions', (request, reply) => proxy(request, reply, 'chat', services));
  app.post('/responses', (request, reply) => proxy(request, reply, 'responses', services));
};

export default proxyRoutes;

async function proxy(
  request: FastifyRequest,
  reply: FastifyReply,
  endpoint: Endpoint,
  services: ExchangeServices,
): Promise<FastifyReply> {
  const body = checkBody(endpoint, request.body, request.jsonMembers);
  request.modelAlias = body.model;
  // checkBody accepts only objects that came through the JSON parser (plugins/body.ts): both are set.
  const client = { endpoint, body, json: request.jsonBytes!, members: request.jsonMembers! };
  // The exchange owns the body from here: a stream lets go of its prompt once it is upstream, which
  // it cannot while Fastify's request, alive until the last byte, still holds it.
  request.body = undefined;
  request.jsonBytes = null;
  request.jsonMembers = null;
  await new Exchange(services, client, request.principal!, connection(request, reply)).run();
  return reply;
}

function connection(request: FastifyRequest, reply: FastifyReply): ClientConnection {
  return {
    response: reply.raw,
    headers: request.headers,
    requestId: request.id,
    log: request.log,
    setHeaders: (headers) => reply.headers(headers),
    send: (status, headers, body) => reply.code(status).headers(headers).send(body),
    logsItself: () => {
      request.selfLogged = true;
    },
    addLogFields: (fields) => {
      request.logFields = fields;
    },
  };
}
