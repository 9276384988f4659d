/**
 * Model routing: a model alias maps to an ordered list of provider routes (the fallback order),
 * filtered to the providers that serve the endpoint. Computed once at start-up.
 */
import type { Config, Endpoint, ModelConfig, ProviderConfig } from '../config.js';
import { providerHeaders } from './headers.js';

export interface UpstreamRoute {
  providerName: string;
  provider: ProviderConfig;
  /** The provider's own id for the model, sent in the body instead of the alias. */
  model: string;
  origin: string;
  path: string;
  /** Set on every request to this route: the provider's configured headers and its credential. */
  headers: Record<string, string>;
}

const ENDPOINT_PATHS: Record<Endpoint, string> = { chat: '/chat/completions', responses: '/responses' };

export class ModelRouter {
  private readonly table = new Map<string, Record<Endpoint, UpstreamRoute[]>>();

  constructor(private readonly config: Config) {
    for (const [alias, model] of Object.entries(config.models)) {
      this.table.set(alias, { chat: this.build(model, 'chat'), responses: this.build(model, 'responses') });
    }
  }

  /** undefined: unknown alias. An empty list: the alias exists but no provider serves this endpoint. */
  routes(alias: string, endpoint: Endpoint): UpstreamRoute[] | undefined {
    return this.table.get(alias)?.[endpoint];
  }

  model(alias: string): ModelConfig | undefined {
    return this.config.models[alias];
  }

  aliases(): string[] {
    return [...this.table.keys()];
  }

  private build(model: ModelConfig, endpoint: Endpoint): UpstreamRoute[] {
    return model.routes
      .map((route) => ({ route, provider: this.config.providers[route.provider]! }))
      .filter(({ provider }) => provider.endpoints.includes(endpoint))
      .map(({ route, provider }) => {
        const base = new URL(provider.baseUrl);
        return {
          providerName: route.provider,
          provider,
          model: route.model,
          origin: base.origin,
          path: base.pathname.replace(/\/+$/, '') + ENDPOINT_PATHS[endpoint],
          headers: providerHeaders(provider),
        };
      });
  }
}
