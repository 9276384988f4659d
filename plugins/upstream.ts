/**
 * What every proxied request shares, as `app.upstream`: the model router, the keep-alive pools to the
 * upstreams (closed with the app), the process-wide bound on buffered answers, and the provider keys
 * to redact from anything relayed or logged.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';
import { AnswerBuffers } from '../src/upstream/answer-body.js';
import { UpstreamPools } from '../src/upstream/pools.js';
import { ModelRouter } from '../src/upstream/routing.js';
import type { SecretRedactor } from '../src/upstream/secret-redactor.js';

export interface Upstream {
  router: ModelRouter;
  pools: UpstreamPools;
  answers: AnswerBuffers;
  /** Removes provider keys from upstream error messages before they are relayed or logged. */
  providerKeys: SecretRedactor;
}

declare module 'fastify' {
  interface FastifyInstance {
    upstream: Upstream;
  }
}

export interface UpstreamOptions {
  config: Config;
  /** Made before the app (the logger redacts the same keys), so passed in rather than built here. */
  providerKeys: SecretRedactor;
}

const upstream: FastifyPluginAsync<UpstreamOptions> = async (app, { config, providerKeys }) => {
  const pools = new UpstreamPools(config.upstream);
  const answers = new AnswerBuffers(
    config.upstream.maxBufferedAnswerBytes,
    config.upstream.maxBufferedAnswersTotalBytes,
  );
  app.decorate('upstream', { router: new ModelRouter(config), pools, answers, providerKeys });
  app.addHook('onClose', () => pools.close());
};

export default fp(upstream, { name: 'tollgate-upstream' });
