/**
 * Model routing: a model alias maps to an ordered list of provider routes (the fallback order),
 * filtered to the providers that have a credential. Computed once at start-up. A Responses request
 * routed to a provider that serves only Chat Completions is bridged: sent as a chat request, its answer
 * turned back into Responses (docs/contract.md §5.5).
 * A provider without credentials would only refuse every request (after a round trip), so it is
 * skipped; a provider that needs none (a local server) is given any placeholder apiKey.
 */
import type { Config, ModelConfig, ProviderConfig } from '../config.js';
import type { Dialect } from '../dialects/dialect.js';
import { formSchemaDialect } from '../dialects/form-schema.js';
import { openaiDialect } from '../dialects/openai.js';
import { responsesOverChat } from '../dialects/responses-over-chat.js';
import type { Endpoint } from '../openai/endpoint.js';
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
  /** How this provider is spoken to: its `format`, bridged from Responses when `bridged`. */
  dialect: Dialect;
  /** A Responses request sent to a chat-only provider as Chat Completions. */
  bridged: boolean;
}

const ENDPOINT_PATHS: Record<Endpoint, string> = { chat: '/chat/completions', responses: '/responses' };
const DIALECTS: Record<ProviderConfig['format'], Dialect> = { openai: openaiDialect, 'form-schema': formSchemaDialect };
const BRIDGED_DIALECTS: Record<ProviderConfig['format'], Dialect> = {
  openai: responsesOverChat(openaiDialect),
  'form-schema': responsesOverChat(formSchemaDialect),
};

/** Where the provider takes the endpoint: its own, or chat when a Responses request is bridged. */
function endpointPath(provider: ProviderConfig, endpoint: Endpoint): string {
  const sent = provider.endpoints.includes(endpoint) ? endpoint : 'chat';
  return sent === 'chat' && provider.chatPath !== undefined ? provider.chatPath : ENDPOINT_PATHS[sent];
}

/** A provider without the Responses endpoint gets Responses requests bridged over its chat endpoint. */
function serves(provider: ProviderConfig, endpoint: Endpoint): boolean {
  return provider.endpoints.includes(endpoint) || (endpoint === 'responses' && provider.endpoints.includes('chat'));
}
/** A credential set through the provider's `headers` (e.g. Azure's api-key) counts as one too. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'api-key', 'x-api-key']);

export function hasCredential(provider: ProviderConfig): boolean {
  return (
    provider.apiKey !== '' ||
    Object.keys(provider.headers).some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()))
  );
}

interface EndpointRoutes {
  routes: UpstreamRoute[];
  /** Providers of this endpoint's routes skipped for want of a credential. */
  uncredentialed: string[];
}

export class ModelRouter {
  private readonly table = new Map<string, Record<Endpoint, EndpointRoutes>>();

  constructor(private readonly config: Config) {
    for (const [alias, model] of Object.entries(config.models)) {
      this.table.set(alias, { chat: this.build(model, 'chat'), responses: this.build(model, 'responses') });
    }
  }

  /** undefined: unknown alias. An empty list: the alias exists but no credentialed provider serves this endpoint. */
  routes(alias: string, endpoint: Endpoint): UpstreamRoute[] | undefined {
    return this.table.get(alias)?.[endpoint].routes;
  }

  /** The providers that would serve `alias` on `endpoint` but have no credential. */
  uncredentialed(alias: string, endpoint: Endpoint): string[] {
    return this.table.get(alias)?.[endpoint].uncredentialed ?? [];
  }

  model(alias: string): ModelConfig | undefined {
    return this.config.models[alias];
  }

  aliases(): string[] {
    return [...this.table.keys()];
  }

  private build(model: ModelConfig, endpoint: Endpoint): EndpointRoutes {
    const serving = model.routes
      .map((route) => ({ route, provider: this.config.providers[route.provider]! }))
      .filter(({ provider }) => serves(provider, endpoint));
    const uncredentialed = serving
      .filter(({ provider }) => !hasCredential(provider))
      .map(({ route }) => route.provider);
    const routes = serving
      .filter(({ provider }) => hasCredential(provider))
      .map(({ route, provider }) => {
        const base = new URL(provider.baseUrl);
        const bridged = !provider.endpoints.includes(endpoint);
        return {
          providerName: route.provider,
          provider,
          model: route.model,
          origin: base.origin,
          path: base.pathname.replace(/\/+$/, '') + endpointPath(provider, endpoint),
          headers: providerHeaders(provider),
          dialect: (bridged ? BRIDGED_DIALECTS : DIALECTS)[provider.format],
          bridged,
        };
      });
    return { routes, uncredentialed };
  }
}
