/**
 * Authentication: the client's tollgate key (Authorization: Bearer, api-key or x-api-key) becomes
 * `request.principal`. The key is resolved in onRequest and refused in preParsing, so an
 * unauthenticated request never has its body read, and the per-IP guard (plugins/limits.ts, a
 * route-level onRequest hook, so it runs in between) sees which requests carry no valid key.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hashKey, isKeyActive, type ApiKeyRecord } from '../src/keys/api-key.js';
import type { KeyStore } from '../src/keys/key-store.js';
import { invalidApiKey, serviceUnavailable } from '../src/errors.js';

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
    if (!key) return;
    let record: ApiKeyRecord | undefined;
    try {
      record = await keyStore.findByHash(hashKey(key));
    } catch (err) {
      request.log.warn({ err }, 'key store unavailable');
      throw serviceUnavailable('API keys cannot be checked right now. Please retry shortly.', 'key_store_unavailable');
    }
    if (record && isKeyActive(record)) request.principal = record;
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.principal === null) done(invalidApiKey());
    else done(null, payload);
  });
};

export default fp(auth, { name: 'tollgate-auth' });
