/**
 * A small app around the admin API, composed and rendering errors the way src/app.ts does: memory key
 * and usage stores, one static (config) key, and usage rows with known numbers.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import adminAuthPlugin from '../../plugins/admin-auth.js';
import errorsPlugin from '../../plugins/errors.js';
import { hashKey, staticKeyId, type ApiKeyRecord } from '../../src/keys/api-key.js';
import { CombinedKeyStore } from '../../src/keys/combined-key-store.js';
import { MemoryKeyStore } from '../../src/keys/memory-key-store.js';
import adminRoutes from '../../src/routes/admin.js';
import { MemoryUsageStore } from '../../src/usage/memory-usage-store.js';
import type { UsageEvent } from '../../src/usage/usage-store.js';

export const ADMIN_TOKEN = 'admin-secret-token';

export interface AdminApp {
  app: FastifyInstance;
  keys: MemoryKeyStore;
  usage: MemoryUsageStore;
  staticKey: ApiKeyRecord;
  /** Managed keys with usage: red (team red) and blue (team blue). */
  red: ApiKeyRecord;
  blue: ApiKeyRecord;
}

const configKeyHash = hashKey('sk-tg-config-key-0123456789');
const staticKey: ApiKeyRecord = {
  id: staticKeyId(configKeyHash),
  name: 'ops',
  tier: 'tier-1',
  team: 'red',
  createdAt: '2026-01-01T00:00:00.000Z',
  source: 'config',
  keyHash: configKeyHash,
};

export async function buildAdminApp(token = ADMIN_TOKEN): Promise<AdminApp> {
  const app = Fastify({ logger: false, bodyLimit: 1_000_000 });
  await app.register(errorsPlugin);
  const keys = new MemoryKeyStore();
  const usage = new MemoryUsageStore();
  await app.register(
    async (admin) => {
      // The per-IP guard itself is tested end to end (test/e2e/rate-limits/ip-guard.test.ts).
      await admin.register(adminAuthPlugin, { token, perIpGuard: async () => undefined });
      await admin.register(adminRoutes, {
        keys: new CombinedKeyStore([staticKey], keys),
        usage,
        tiers: ['tier-1', 'tier-2'],
        models: ['gpt-test', 'gpt-mini'],
      });
    },
    { prefix: '/admin' },
  );
  const red = (await keys.create({ name: 'red-app', tier: 'tier-1', team: 'red' })).record;
  const blue = (await keys.create({ name: 'blue-app', tier: 'tier-2', team: 'blue' })).record;
  const event = (keyId: string, model: string, at: string, tokens: number, costUsd: number): UsageEvent => ({
    keyId,
    model,
    at: new Date(at),
    costUsd,
    usage: {
      promptTokens: tokens,
      cachedTokens: 0,
      completionTokens: tokens / 2,
      reasoningTokens: 0,
      totalTokens: tokens * 1.5,
      estimated: false,
    },
  });
  usage.record(event(red.id, 'gpt-test', '2026-03-01T10:00:00Z', 100, 0.5));
  usage.record(event(red.id, 'gpt-mini', '2026-03-02T10:00:00Z', 200, 0.25));
  usage.record(event(blue.id, 'gpt-test', '2026-03-02T11:00:00Z', 40, 1));
  usage.record(event(blue.id, 'gpt-test', new Date().toISOString(), 10, 0.125)); // this month: the default range
  await usage.flush();
  return { app, keys, usage, staticKey, red, blue };
}
