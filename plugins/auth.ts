/**
 * Authentication: the client's tollgate key (Authorization: Bearer, api-key or x-api-key) becomes
 * `request.principal`. The key is resolved in onRequest, where a request without a valid key meets the
 * per-IP guard (plugins/limits.ts) and is refused, so an unauthenticated request never has its body read.
 * (docs/contract.md §3.1, §6.8)
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isKeyActive, type ApiKeyRecord } from '../src/keys/api-key.js';
import { KeyHashCache } from '../src/keys/key-hash-cache.js';
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
  const hashes = new KeyHashCache();
  app.addHook('onRequest', async (request, reply) => {
    const key = presentedKey(request);
    if (key) request.principal = await activeRecord(keyStore, hashes, key);
    if (request.principal !== null) return;
    // Only requests without a valid key meet the per-IP guard (bad-key floods, key guessing): its 429
    // when the address is over its limit, else the 401.
    await app.perIpGuard(request, reply);
    throw invalidApiKey();
  });
};

async function activeRecord(keyStore: KeyStore, hashes: KeyHashCache, key: string): Promise<ApiKeyRecord | null> {
  const keyHash = hashes.hash(key);
  // A store that cannot answer rejects with StoreUnavailableError: a 503 key_store_unavailable.
  const record = await keyStore.findByHash(keyHash);
  if (!record) return null;
  hashes.remember(key, keyHash);
  return isKeyActive(record) ? record : null;
}

export default fp(auth, { name: 'tollgate-auth', dependencies: ['tollgate-limits'] });
