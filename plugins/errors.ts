/**
 * The app-wide error and 404 handlers: everything a client sees goes out in OpenAI's error shape
 * (src/errors.ts toClientError). A 413 names the body limit Fastify enforces (its `bodyLimit`).
 * What went wrong goes on the request's one log line (plugins/request-log.ts), not on a line of its own:
 * refusals and upstream failures are routine, and their stacks say nothing. Only a bug (an error none of
 * ours) is logged with its stack.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { notFound, StoreUnavailableError, toClientError, type GatewayError } from '../src/errors.js';

const errors: FastifyPluginAsync = async (app) => {
  const bodyLimitBytes = app.initialConfig.bodyLimit!; // always set: Fastify fills in its default
  app.setErrorHandler((err, request, reply) => {
    const { error, bug } = toClientError(err, bodyLimitBytes);
    if (bug) request.log.error({ err }, 'request failed');
    noteFailure(request, error, err);
    return reply.code(error.status).headers(error.headers).send(error.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const err = notFound(request.method, request.url);
    noteFailure(request, err, err);
    return reply.code(err.status).send(err.toBody());
  });
};

/**
 * The error's code and refusal reason for the request's line; for a 5xx also what happened, in words: the
 * upstream's (already redacted) message, or the store's own Redis error.
 */
function noteFailure(request: FastifyRequest, error: GatewayError, thrown: unknown): void {
  const detail = thrown instanceof StoreUnavailableError ? thrown.message : error.message;
  request.failure = {
    code: error.code,
    ...(error.reason && { reason: error.reason }),
    ...(error.status >= 500 && { error: detail }),
  };
}

export default fp(errors, { name: 'tollgate-errors' });
