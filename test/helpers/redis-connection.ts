/** The connection the gateway gives its stores (plugins/redis.ts), ready, on one server or on a cluster. */
import { createLimiterRedis } from '../../src/limits/redis-client.js';
import type { RedisClient } from '../../src/redis/client.js';
import { untilReady } from '../../src/redis/ready.js';

/** Generous: a slow machine must not fail a command, only take longer. */
const COMMAND_TIMEOUT_MS = 10_000;

/** A URL for one server, node URLs for a cluster. The caller quits it. */
export async function readyConnection(target: string | string[]): Promise<RedisClient> {
  const redis = createLimiterRedis(target, COMMAND_TIMEOUT_MS);
  redis.on('error', () => {}); // connection errors surface as rejected commands
  await untilReady(redis);
  return redis;
}
