/**
 * The admin token check, `Authorization: Bearer <admin token>`, on every request of the context it is
 * registered in (src/app.ts: the /admin prefix). The per-IP guard runs first, so token guessing is
 * limited per address.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { invalidApiKey } from '../src/errors.js';
import { bearerMatches } from '../src/security/bearer.js';

export interface AdminAuthOptions {
  /** Empty: every admin request is refused. */
  token: string;
  /** plugins/limits.ts `app.perIpGuard` (an option so the admin API can be tested without it). */
  perIpGuard(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

const adminAuth: FastifyPluginAsync<AdminAuthOptions> = async (app, { token, perIpGuard }) => {
  app.addHook('onRequest', async (request, reply) => {
    await perIpGuard(request, reply);
    // An empty token must never match an empty Bearer.
    if (!token || !bearerMatches(request.headers.authorization, token)) throw invalidApiKey('admin token');
  });
};

export default fp(adminAuth, { name: 'tollgate-admin-auth' });
