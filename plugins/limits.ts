/**
 * Rate limiting, two layers:
 * - `app.admission`: the tiered RPM/RPD/TPM/TPD limits per key and model (and per provider
 *   account), on Redis when configured, shared by every instance; in memory otherwise. With Redis,
 *   each instance heartbeats the fleet's presence set so that, while Redis does not answer, it limits
 *   from its share of Redis' last state (src/limits/failover-limiter.ts states the bound).
 * - a per-IP guard (@fastify/rate-limit), `app.perIpGuard`, for requests that carry no valid key and
 *   for the admin API: bad-key floods and token guessing hit it, authenticated traffic never does
 *   (docs/contract.md §6.8). Its answers carry @fastify/rate-limit's own x-ratelimit-limit, -remaining
 *   and -reset headers, not OpenAI's six (docs/wire.md §8.4).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';
import { tooManyUnauthenticatedRequests } from '../src/errors.js';
import { AdmissionControl } from '../src/limits/admission.js';
import { FailoverLimiter } from '../src/limits/failover-limiter.js';
import { FleetPresence } from '../src/limits/fleet.js';
import { LeasingLimiter } from '../src/limits/lease-limiter.js';
import type { Limiter } from '../src/limits/limiter.js';
import { MemoryLimiter } from '../src/limits/memory-limiter.js';
import { RedisLimiter } from '../src/limits/redis-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    admission: AdmissionControl;
    /** The per-IP guard as an onRequest hook: throws the 429 once an address is over limits.perIpPerMinute. */
    perIpGuard(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  }
}

const limits: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const admission = new AdmissionControl(createLimiter(app, config), config, {
    onDenied: (dimension) => app.metrics.rateLimited.inc({ dimension }),
    onSettleError: (err) => app.log.warn({ err }, 'rate-limit settlement failed'),
  });
  app.decorate('admission', admission);
  app.addHook('onClose', () => admission.close());

  // global: false — the guard runs only where it is called: the /v1 auth hook calls it for requests
  // without a valid key, the admin API for all of its requests. Authenticated traffic never pays for it.
  await app.register(rateLimit, {
    global: false,
    max: config.limits.perIpPerMinute,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) => tooManyUnauthenticatedRequests(context.after),
  });
  app.decorate('perIpGuard', app.rateLimit());
};

function createLimiter(app: Parameters<FastifyPluginAsync>[0], config: Config): Limiter {
  if (!app.redis) return new MemoryLimiter();
  const fleet = new FleetPresence(app.redis.commands, config.redis.keyPrefix, {
    onChange: (instances) => app.log.info({ instances }, 'rate limits: live gateway instances sharing Redis'),
  });
  fleet.start();
  app.addHook('onClose', () => fleet.close());
  const redisLimiter = new RedisLimiter(app.redis.commands, config.redis.keyPrefix);
  // Inside the failover: leases are taken from Redis only, never from the mirror (lease-limiter.ts).
  const primary = config.limits.leasing
    ? new LeasingLimiter(redisLimiter, { onError: (err) => app.log.warn({ err }, 'rate-limit lease refund failed') })
    : redisLimiter;
  return new FailoverLimiter(primary, {
    failMode: config.redis.failMode,
    timeoutMs: 0, // the commands connection has its own commandTimeout
    instances: () => fleet.instances,
    // One per limiter call Redis did not answer: the log line below is throttled, the counter is not.
    onFailure: () => app.metrics.redisErrors.inc({ component: 'limits' }),
    onFallback: (err, failures) => {
      const message = "redis unavailable: rate limits are this instance's share of Redis' last state until it answers";
      app.log.warn({ err: (err as Error).message, failures, instances: fleet.instances, failMode: 'open' }, message);
    },
  });
}

export default fp(limits, { name: 'tollgate-limits', dependencies: ['tollgate-redis', 'tollgate-metrics'] });
