/** The app-wide error and 404 handlers: everything a client sees goes out in OpenAI's error shape. */
import type { FastifyInstance } from 'fastify';
import { notFound, renderError } from '../src/errors.js';

export function installErrorRendering(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body, headers } = renderError(err, bodyLimitBytes);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = notFound(request.method, request.url);
    return reply.code(err.status).send(err.toBody());
  });
}
