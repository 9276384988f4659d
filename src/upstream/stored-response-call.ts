/**
 * One call on a response that a provider holds natively (GET or DELETE /responses/:id, GET its
 * input_items, POST its cancel): sent to that provider only (nobody else knows the id, so there is no
 * fallback), with the provider's headers and credential and the client's headers minus its own
 * credentials (headers.ts), the client's query string as it came (`stream`, `include[]`,
 * `starting_after`, …). A 2xx comes back unread, JSON or SSE as the provider sends it, for the caller to
 * relay; anything else is thrown as the error the client gets, in OpenAI's envelope with the provider's
 * message redacted of provider keys (upstream-error.ts), as forward.ts does for proxied requests.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ProviderConfig } from '../config.js';
import { upstreamUnavailable, type GatewayError } from '../errors.js';
import type { ClientGone } from './client-gone.js';
import type { UpstreamServices } from './forward.js';
import { downstreamHeaders, providerHeaders, upstreamHeaders } from './headers.js';
import {
  credentialRefused,
  readErrorBody,
  readUpstreamError,
  redirected,
  relayedUpstreamError,
  unreachable,
} from './upstream-error.js';

/** Cancel takes a JSON body; OpenAI's SDK sends none, an empty object is what it means. */
const CANCEL_BODY = Buffer.from('{}');

export type StoredResponseAction = 'retrieve' | 'delete' | 'input_items' | 'cancel';

const ACTIONS: Record<StoredResponseAction, { method: 'GET' | 'DELETE' | 'POST'; suffix: string }> = {
  retrieve: { method: 'GET', suffix: '' },
  delete: { method: 'DELETE', suffix: '' },
  input_items: { method: 'GET', suffix: '/input_items' },
  cancel: { method: 'POST', suffix: '/cancel' },
};

export interface StoredResponseCall {
  action: StoredResponseAction;
  /** The response id, as the client sent it. */
  id: string;
  providerName: string;
  provider: ProviderConfig;
  /** The client's query string without its `?`; empty for none. */
  query: string;
  clientHeaders: IncomingHttpHeaders;
  /** Aborted when the client goes away: stops the call under way. */
  signal: ClientGone;
}

/** The provider's 2xx, its body still to be read (relayed as it arrives). */
export interface StoredResponseAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Readable;
}

/** Throws the client's error for a non-2xx answer or an unreachable provider. */
export async function callStoredResponse(
  upstream: Pick<UpstreamServices, 'pools' | 'providerKeys'>,
  call: StoredResponseCall,
): Promise<StoredResponseAnswer> {
  const { method, suffix } = ACTIONS[call.action];
  const base = new URL(call.provider.baseUrl);
  const path =
    `${base.pathname.replace(/\/+$/, '')}/responses/${encodeURIComponent(call.id)}${suffix}` +
    (call.query ? `?${call.query}` : '');
  const body = method === 'POST' ? CANCEL_BODY : undefined;
  const headers = upstreamHeaders(call.clientHeaders, providerHeaders(call.provider), body?.length ?? 0);
  if (!body) {
    delete headers['content-type'];
    delete headers['content-length'];
  }
  let response;
  try {
    response = await upstream.pools.get(base.origin).request({ method, path, headers, body, signal: call.signal });
  } catch (err) {
    throw unreachable(call.providerName, err).error;
  }
  const status = response.statusCode;
  if (status >= 200 && status < 300) {
    return { status, headers: downstreamHeaders(response.headers), body: response.body };
  }
  const text = readUpstreamError(await readErrorBody(response.body), upstream.providerKeys);
  throw refused(call.providerName, status, text, response.headers);
}

function refused(
  providerName: string,
  status: number,
  text: ReturnType<typeof readUpstreamError>,
  headers: IncomingHttpHeaders,
): GatewayError {
  if (status === 401 || status === 403) return credentialRefused(providerName);
  if (status < 400) return upstreamUnavailable(redirected(status).message);
  return relayedUpstreamError(status, text, headers);
}
