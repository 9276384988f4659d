/**
 * Header rewriting in both directions. Upstream: the client's credentials and identity never leave,
 * the provider's do. Downstream: the upstream's own rate-limit view and account identity stay inside.
 * (docs/contract.md §3.2, §3.3)
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderConfig } from '../config.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones undici computes itself. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

const NEVER_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  'host',
  'content-length',
  // Node's server already answered the client's 100-continue; undici refuses to send one (UND_ERR_NOT_SUPPORTED).
  'expect',
  // Client credentials and the client's OpenAI account routing.
  'authorization',
  'api-key',
  'x-api-key',
  'openai-organization',
  'openai-project',
  // tollgate reads bodies for usage, so the client's Accept-Encoding is dropped and none is sent (not even
  // `identity`): it relies on upstreams not compressing when no encoding is asked for (docs/contract.md §3.2).
  'accept-encoding',
  'cookie',
]);

const NEVER_DOWNSTREAM = new Set([
  ...HOP_BY_HOP,
  'content-length',
  'set-cookie',
  // The provider account's identity is not the client's business.
  'openai-organization',
  'openai-project',
]);

/** What a provider adds to every request: its configured `headers`, then its credential. Computed once per route. */
export function providerHeaders(provider: ProviderConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(provider.headers)) out[name.toLowerCase()] = value;
  if (provider.apiKey) out.authorization = `Bearer ${provider.apiKey}`;
  return out;
}

/** The client's headers minus credentials, identity and hop-by-hop ones, plus the provider's (`providerHeaders`). */
export function upstreamHeaders(
  client: IncomingHttpHeaders,
  provider: Record<string, string>,
  bodyLength: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  const connectionListed = listedInConnection(client.connection);
  for (const name in client) {
    const value = client[name];
    if (value === undefined || NEVER_UPSTREAM.has(name) || connectionListed?.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  Object.assign(out, provider);
  out['content-type'] = 'application/json';
  out['content-length'] = String(bodyLength);
  return out;
}

/** Upstream response headers worth passing on; upstream x-ratelimit-* are replaced by tollgate's own. */
export function downstreamHeaders(upstream: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || NEVER_DOWNSTREAM.has(name) || name.startsWith('x-ratelimit-')) continue;
    out[name] = value;
  }
  return out;
}

/** Extra hop-by-hop names the client listed in Connection; undefined for the usual `keep-alive` / `close`. */
function listedInConnection(connection: string | string[] | undefined): Set<string> | undefined {
  if (!connection || connection === 'keep-alive' || connection === 'close') return undefined;
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  return new Set(text.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}
