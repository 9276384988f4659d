/**
 * Sends a request along a model's routes in order until one answers. Connection errors, timeouts
 * before the response headers, 429, 5xx and refused provider credentials (401/403) fall through to
 * the next route. Nothing has reached the client at this point, so a retry is always safe; once the
 * caller starts relaying a body there is no retry.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { GatewayError, upstreamTimeout, upstreamUnavailable } from '../errors.js';
import type { ClientGone } from './client-gone.js';
import { upstreamHeaders } from './headers.js';
import type { UpstreamPools } from './pools.js';
import type { UpstreamRoute } from './routing.js';

/** Error bodies of failed attempts are read up to this size (they can be relayed as the final answer). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

export interface Attempt {
  provider: string;
  status?: number;
  cause?: string;
  ms: number;
}

export interface ForwardRequest {
  routes: UpstreamRoute[];
  pools: UpstreamPools;
  clientHeaders: IncomingHttpHeaders;
  /** The body for one route (the model alias replaced by the route's model id). */
  bodyFor(route: UpstreamRoute): Buffer;
  /** Aborted when the client goes away: stops the attempt under way and any further ones. */
  signal: ClientGone;
  /** Asked before each attempt; a refusal skips the route (e.g. its provider account is out of room). */
  admitRoute?(route: UpstreamRoute): Promise<RouteRefusal | undefined>;
  onAttemptFailed?(attempt: Attempt): void;
}

export interface ForwardSuccess {
  route: UpstreamRoute;
  response: Dispatcher.ResponseData;
  attempts: Attempt[];
  upstreamMs: number;
}

/** Why a route was skipped: the answer when no route was tried, the one that ends soonest. */
export interface RouteRefusal {
  retryAfterMs: number;
  error: GatewayError;
}

/** Outcome of one failed attempt, kept so the last one can shape the final error. */
type Failure = { status: number; body?: Buffer; headers?: IncomingHttpHeaders; cause?: string; error?: GatewayError };

export async function forwardWithFallback(req: ForwardRequest): Promise<ForwardSuccess> {
  const attempts: Attempt[] = [];
  const refusals: RouteRefusal[] = [];
  let last: Failure | undefined;
  for (const route of req.routes) {
    const refusal = await req.admitRoute?.(route);
    if (refusal) {
      refusals.push(refusal);
      continue;
    }
    const started = performance.now();
    const outcome = await attempt(req, route);
    const ms = performance.now() - started;
    if ('response' in outcome) {
      attempts.push({ provider: route.providerName, status: outcome.response.statusCode, ms });
      return { route, response: outcome.response, attempts, upstreamMs: ms };
    }
    const failed: Attempt = { provider: route.providerName, status: outcome.error ? undefined : outcome.status, cause: outcome.cause, ms };
    attempts.push(failed);
    req.onAttemptFailed?.(failed);
    last = outcome;
  }
  throw finalError(last, attempts, refusals);
}

async function attempt(req: ForwardRequest, route: UpstreamRoute): Promise<{ response: Dispatcher.ResponseData } | Failure> {
  const body = req.bodyFor(route);
  let response: Dispatcher.ResponseData;
  try {
    response = await req.pools.get(route.origin).request({
      method: 'POST',
      path: route.path,
      headers: upstreamHeaders(req.clientHeaders, route.headers, body.length),
      body,
      signal: req.signal,
    });
  } catch (err) {
    if (req.signal.gone) throw err; // the client left: no fallback, nobody to answer
    return { status: 0, cause: errorCode(err), error: networkError(route, err) };
  }
  if (!shouldFallThrough(response.statusCode)) return { response };
  const errorBody = await readCapped(response.body);
  return { status: response.statusCode, body: errorBody, headers: response.headers };
}

/** 4xx other than these is the client's own fault and would fail the same way on every route. */
function shouldFallThrough(status: number): boolean {
  return status === 401 || status === 403 || status === 408 || status === 429 || status >= 500;
}

function networkError(route: UpstreamRoute, err: unknown): GatewayError {
  const code = errorCode(err);
  const message = `Upstream provider "${route.providerName}" could not be reached (${code}).`;
  return TIMEOUT_CODES.has(code) ? upstreamTimeout(message, err) : upstreamUnavailable(message, err);
}

function errorCode(err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).name ?? 'UNKNOWN';
}

function finalError(last: Failure | undefined, attempts: Attempt[], refusals: RouteRefusal[]): GatewayError {
  if (!last) {
    // No route was tried: every one was refused before its attempt (or there were none).
    if (refusals.length > 0) return refusals.reduce((soonest, r) => (r.retryAfterMs < soonest.retryAfterMs ? r : soonest)).error;
    return new GatewayError('No upstream route has room for this request right now. Please try again shortly.', {
      status: 503,
      type: 'server_error',
      code: 'no_route_available',
      headers: { 'retry-after': '1' },
    });
  }
  if (last.error) return last.error;
  const providers = attempts.map((a) => a.provider).join(', ');
  if (last.status === 401 || last.status === 403) {
    // Never relay this body: a provider's 401 can echo part of its key.
    return upstreamUnavailable(`The upstream provider refused the gateway's credential (tried: ${providers}). The operator has been notified in the logs.`);
  }
  return relayedUpstreamError(last.status, last.body, last.headers, providers);
}

/** Retry hints worth passing on, so the SDKs back off as the upstream asked. */
const RETRY_HEADERS = ['retry-after', 'retry-after-ms', 'x-should-retry'];
/** OpenAI names the provider's organization in 429 messages; that is not the client's business. */
const ORGANIZATION_MENTION = / in organization [\w-]+/g;

/** The upstream's own OpenAI-shaped error when it sent one, otherwise a generic one with its status. */
function relayedUpstreamError(status: number, body: Buffer | undefined, headers: IncomingHttpHeaders | undefined, providers: string): GatewayError {
  const parsed = parseErrorEnvelope(body);
  const type = parsed?.type ?? (status === 429 ? 'rate_limit_exceeded' : 'server_error');
  const message = parsed?.message.replace(ORGANIZATION_MENTION, '') ?? `Upstream error ${status} from every route (tried: ${providers}).`;
  const retryHeaders = Object.fromEntries(RETRY_HEADERS.filter((name) => typeof headers?.[name] === 'string').map((name) => [name, headers![name] as string]));
  return new GatewayError(message, { status, type, code: parsed?.code ?? null, param: parsed?.param ?? null, headers: retryHeaders });
}

function parseErrorEnvelope(body: Buffer | undefined): { message: string; type?: string; code?: string; param?: string } | undefined {
  if (!body?.length) return undefined;
  try {
    const error = JSON.parse(body.toString('utf8'))?.error;
    return typeof error?.message === 'string' ? error : undefined;
  } catch {
    return undefined;
  }
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > MAX_ERROR_BODY_BYTES) break;
      chunks.push(chunk);
    }
  } catch {
    // A broken error body still counts as a failed attempt; what was read is enough.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}
