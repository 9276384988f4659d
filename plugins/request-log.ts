/**
 * One line per request; proxied requests write a richer line themselves (with usage) and set
 * `request.selfLogged`. Every answer carries an x-request-id (the upstream's on proxied answers, the
 * gateway's own otherwise).
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes that log their own completion line (with usage), so onResponse does not. */
    selfLogged: boolean;
  }
}

const requestLog: FastifyPluginAsync = async (app) => {
  app.decorateRequest('selfLogged', false);
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
      },
      'request completed',
    );
    done();
  });
};

export default fp(requestLog, { name: 'tollgate-request-log' });
