/**
 * The key store: static keys from the config, plus keys created over the admin API (in Redis when
 * configured, so every instance sees them; in memory otherwise). Exposed as `app.keys`.
 * While Redis is away, keys this instance has resolved keep working from their last known records and
 * other keys get 503; every lookup Redis could not answer counts in
 * tollgate_redis_errors_total{component="keys"}, and a warning says so at most every 10 s.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';
import type { ApiKeyRecord } from '../src/keys/api-key.js';
import { CombinedKeyStore } from '../src/keys/combined-key-store.js';
import { MemoryKeyStore } from '../src/keys/memory-key-store.js';
import { RedisKeyStore } from '../src/keys/redis-key-store.js';
import { loadStaticKeys } from '../src/keys/static-keys.js';
import { ThrottledNotice } from '../src/observability/throttled-notice.js';
import type { RedisClient } from '../src/redis/client.js';

declare module 'fastify' {
  interface FastifyInstance {
    keys: CombinedKeyStore;
  }
}

const keys: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const staticKeys: ApiKeyRecord[] = loadStaticKeys(config.keys).records;
  const managed = app.redis ? redisKeyStore(app, app.redis.commands, config) : new MemoryKeyStore();
  const store = new CombinedKeyStore(staticKeys, managed);
  app.decorate('keys', store);
  app.addHook('onClose', () => store.close());
};

const NOTICE_INTERVAL_MS = 10_000;

function redisKeyStore(app: Parameters<FastifyPluginAsync>[0], redis: RedisClient, config: Config): RedisKeyStore {
  const notice = new ThrottledNotice<unknown>(NOTICE_INTERVAL_MS, (err, failures) =>
    app.log.warn(
      { err: (err as Error).message, failures },
      'redis unavailable: keys this instance resolved before are answered from their last known records, ' +
        'other keys get 503',
    ),
  );
  return new RedisKeyStore(redis, {
    keyPrefix: config.redis.keyPrefix,
    onFallback: (err) => {
      app.metrics.redisErrors.inc({ component: 'keys' });
      notice.note(err);
    },
  });
}

export default fp(keys, { name: 'tollgate-keys', dependencies: ['tollgate-redis', 'tollgate-metrics'] });
