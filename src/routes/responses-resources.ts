/**
 * The Responses sub-resources behind the client's key: GET and DELETE /v1/responses/:id,
 * GET /v1/responses/:id/input_items, POST /v1/responses/:id/cancel, POST /v1/responses/input_tokens.
 * Adapts Fastify's request and reply to src/responses/resource-calls.ts, which does the work.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ClientGone } from '../upstream/client-gone.js';
import {
  ResponseResources, type ResourceAnswer, type ResourceClient, type ResourceServices,
} from '../responses/resource-calls.js';

type ByIdRequest = FastifyRequest<{ Params: { id: string } }>;

const responsesResources: FastifyPluginAsync<{ services: ResourceServices }> = async (app, { services }) => {
  const resources = new ResponseResources(services);
  const byId = (call: (client: ResourceClient, id: string) => Promise<ResourceAnswer>) =>
    async (request: ByIdRequest, reply: FastifyReply) =>
      send(reply, await call(client(request, reply), request.params.id));
  app.get('/responses/:id', byId((c, id) => resources.retrieve(c, id)));
  app.delete('/responses/:id', byId((c, id) => resources.delete(c, id)));
  app.get('/responses/:id/input_items', byId((c, id) => resources.inputItems(c, id)));
  app.post('/responses/:id/cancel', byId((c, id) => resources.cancel(c, id)));
  app.post('/responses/input_tokens', async (request, reply) =>
    send(reply, await resources.inputTokens(client(request, reply), request.body, request.jsonMembers)),
  );
};

export default responsesResources;

function client(request: FastifyRequest, reply: FastifyReply): ResourceClient {
  const queryStart = request.url.indexOf('?');
  return {
    principal: request.principal!, // the /v1 auth hook refused requests without one
    headers: request.headers,
    rawQuery: queryStart === -1 ? '' : request.url.slice(queryStart + 1),
    query: request.query as Record<string, unknown>,
    signal: new ClientGone(reply.raw),
    setHeaders: (headers) => reply.headers(headers),
    countedOn: (alias) => {
      request.modelAlias = alias;
    },
  };
}

function send(reply: FastifyReply, answer: ResourceAnswer): FastifyReply {
  if (answer.kind === 'json') return reply.code(answer.status).send(answer.body);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}
