/**
 * Authentication: the client's tollgate key (Authorization: Bearer, api-key or x-api-key) becomes
 * `request.principal`. Runs in onRequest, so an unauthenticated request is refused before its body
 * is read.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hashKey, isKeyActive, type ApiKeyRecord } from '../src/keys/api-key.js';
import type { KeyStore } from '../src/keys/key-store.js';
import { invalidApiKey } from '../src/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: ApiKeyRecord | null;
  }
}

export interface AuthOptions {
  keyStore: KeyStore;
}

const BEARER = /^Bearer\s+(.+)$/i;

export function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization) return BEARER.exec(authorization)?.[1]?.trim();
  const header = request.headers['api-key'] ?? request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

const auth: FastifyPluginAsync<AuthOptions> = async (app, { keyStore }) => {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const key = presentedKey(request);
    if (!key) throw invalidApiKey();
    const record = await keyStore.findByHash(hashKey(key));
    if (!record || !isKeyActive(record)) throw invalidApiKey();
    request.principal = record;
  });
};

export default fp(auth, { name: 'tollgate-auth' });
