/**
 * The ioredis client the limiter expects. A limiter call sits on the request path, so a sick Redis must
 * fail a command quickly (FailoverLimiter then answers from memory or refuses) rather than hold it:
 * - enableOfflineQueue false: while disconnected, commands are rejected at once instead of queueing
 *   until a reconnect that may never come;
 * - maxRetriesPerRequest 0 and autoResendUnfulfilledCommands false: a command in flight when the
 *   connection drops is failed, never re-sent: the admit script is not idempotent, a resend could
 *   charge a request twice;
 * - commandTimeout: a connected but unresponsive Redis (stuck server, network black hole) fails the
 *   command after this many ms;
 * - enableAutoPipelining: concurrent requests' commands go out in one write, not one syscall each;
 *   except the admit script: RedisLimiter batches admissions itself and sends at once (a command
 *   auto-pipelined from the end of a turn would wait for the next one);
 * - retryStrategy: reconnect forever, with capped backoff, so limiting returns to Redis on its own.
 *
 * The caller owns the client: attach an 'error' listener (ioredis prints unhandled ones to the console
 * on every failed reconnect), wait for 'ready' before serving if Redis should be up from the start
 * (until then every command fails fast), and quit() it on shutdown.
 */
import { Redis } from 'ioredis';
import { ADMIT_COMMAND } from './redis-limiter.js';

const RECONNECT_BASE_MS = 50;
const RECONNECT_MAX_MS = 2_000;

export function createLimiterRedis(url: string, commandTimeoutMs: number): Redis {
  return new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    // Commands issued in the same event-loop turn (concurrent admissions) share one socket write.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [ADMIT_COMMAND],
    retryStrategy: (attempt) => Math.min(RECONNECT_BASE_MS * 2 ** attempt, RECONNECT_MAX_MS),
  });
}
