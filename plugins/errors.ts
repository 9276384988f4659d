/**
 * The app-wide error and 404 handlers: everything a client sees goes out in OpenAI's error shape
 * (src/errors.ts renderError). A 413 names the body limit Fastify enforces (its `bodyLimit`).
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { notFound, renderError } from '../src/errors.js';

const errors: FastifyPluginAsync = async (app) => {
  const bodyLimitBytes = app.initialConfig.bodyLimit!; // always set: Fastify fills in its default
  app.setErrorHandler((err, request, reply) => {
    const { status, body, headers } = renderError(err, bodyLimitBytes);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = notFound(request.method, request.url);
    return reply.code(err.status).send(err.toBody());
  });
};

export default fp(errors, { name: 'tollgate-errors' });
