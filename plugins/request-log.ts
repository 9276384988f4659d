/**
 * One line per request; proxied requests write a richer line themselves (with usage) and set
 * `request.selfLogged`. A request that ends in an error gets the error's code and, for a refusal, its
 * reason (`request.failure`, set by plugins/errors.ts), plus what its route adds (`request.logFields`:
 * a proxied request's model and the providers it tried). Every answer carries an x-request-id (the
 * upstream's on proxied answers, the gateway's own otherwise).
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { RefusalReason } from '../src/errors.js';

/** What the request's line says about the error it ended in. */
export interface RequestFailure {
  code: string | null;
  reason?: RefusalReason;
  /** 5xx only: what went wrong, in words. */
  error?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes that log their own completion line (with usage), so onResponse does not. */
    selfLogged: boolean;
    failure: RequestFailure | null;
    /** Fields a route adds to the request's line. */
    logFields: object | null;
  }
}

const requestLog: FastifyPluginAsync = async (app) => {
  app.decorateRequest('selfLogged', false);
  app.decorateRequest('failure', null);
  app.decorateRequest('logFields', null);
  // Set first; a proxied answer replaces it with the upstream's id. Callback-style hooks: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.selfLogged) return done();
    request.log.info(
      {
        method: request.method,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        totalMs: Math.round(reply.elapsedTime),
        keyName: request.principal?.name,
        ...request.logFields,
        ...request.failure,
      },
      'request completed',
    );
    done();
  });
};

export default fp(requestLog, { name: 'tollgate-request-log' });
