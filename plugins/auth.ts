/**
 * Authentication: the client's tollgate key (Authorization: Bearer, api-key or x-api-key) becomes
 * `request.principal`. The key is resolved in onRequest, where a request without a valid key also
 * meets the per-IP guard (plugins/limits.ts), and refused in preParsing, so an unauthenticated
 * request never has its body read.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isKeyActive, type ApiKeyRecord } from '../src/keys/api-key.js';
import { KeyHashCache } from '../src/keys/key-hash-cache.js';
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
  const hashes = new KeyHashCache();
  app.addHook('onRequest', async (request, reply) => {
    const key = presentedKey(request);
    if (key) request.principal = await activeRecord(keyStore, hashes, key, request);
    // Only requests without a valid key meet the per-IP guard (bad-key floods, key guessing).
    if (request.principal === null) await app.perIpGuard(request, reply);
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.principal === null) done(invalidApiKey());
    else done(null, payload);
  });
};

async function activeRecord(keyStore: KeyStore, hashes: KeyHashCache, key: string, request: FastifyRequest): Promise<ApiKeyRecord | null> {
  const keyHash = hashes.hash(key);
  let record: ApiKeyRecord | undefined;
  try {
    record = await keyStore.findByHash(keyHash);
  } catch (err) {
    request.log.warn({ err }, 'key store unavailable');
    throw serviceUnavailable('API keys cannot be checked right now. Please retry shortly.', 'key_store_unavailable');
  }
  if (!record) return null;
  hashes.remember(key, keyHash);
  return isKeyActive(record) ? record : null;
}

export default fp(auth, { name: 'tollgate-auth' });
