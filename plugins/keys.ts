/**
 * The key store: static keys from the config, plus keys created over the admin API (in Redis when
 * configured, so every instance sees them; in memory otherwise). Exposed as `app.keys`.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';
import type { ApiKeyRecord } from '../src/keys/api-key.js';
import { CombinedKeyStore } from '../src/keys/combined-key-store.js';
import { MemoryKeyStore } from '../src/keys/memory-key-store.js';
import { RedisKeyStore } from '../src/keys/redis-key-store.js';
import { loadStaticKeys } from '../src/keys/static-keys.js';

declare module 'fastify' {
  interface FastifyInstance {
    keys: CombinedKeyStore;
  }
}

const keys: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const staticKeys: ApiKeyRecord[] = loadStaticKeys(config.keys).records;
  const managed = app.redis ? new RedisKeyStore(app.redis.commands, { keyPrefix: config.redis.keyPrefix }) : new MemoryKeyStore();
  const store = new CombinedKeyStore(staticKeys, managed);
  app.decorate('keys', store);
  app.addHook('onClose', () => store.close());
};

export default fp(keys, { name: 'tollgate-keys', dependencies: ['tollgate-redis'] });
