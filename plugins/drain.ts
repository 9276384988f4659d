/**
 * Connections while the process drains (`app.draining`, set on SIGTERM). Without this every answer
 * went out with `connection: keep-alive` and the sockets then sat idle until the grace period ended,
 * so the process always waited the whole shutdownGraceMs (and clients that reused a socket at that
 * moment hit a reset). Now every answer sent during the drain says `connection: close` (Node closes
 * the socket once it is out), and when an answer whose headers went out before the drain (a stream)
 * ends, its now idle socket is closed at once. The server's close() then completes as soon as the last
 * in-flight request or stream is done.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Set on SIGTERM (src/server.ts): /readyz turns 503 so load balancers stop sending new requests. */
    draining: boolean;
  }
}

const drain: FastifyPluginAsync = async (app) => {
  app.decorate('draining', false);
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (app.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (_request, _reply, done) => {
    if (app.draining) app.server.closeIdleConnections();
    done();
  });
};

export default fp(drain, { name: 'tollgate-drain' });
