/**
 * One attempt of a request on one of a model's routes (the exchange tries them in order until one
 * answers, fallback-trail.ts keeps what they did). Connection errors, timeouts
 * before the response headers, redirects, 401/403 (a refused provider credential), 404 (a retired
 * model id, a wrong baseUrl), 408, 429 and 5xx fall through to the next route, and so does a JSON
 * answer that breaks off or is not valid JSON: it is read (within `AnswerBuffers`' bounds) before
 * anything reaches the client, so a retry is always safe. Once the caller starts relaying a body
 * (a stream, or an answer larger than the bound) there is no retry.
 *
 * Every error the client gets is in OpenAI's envelope with the upstream's message, redacted of
 * provider keys; when several routes failed, the message names each of them. (docs/contract.md §5.2, §5.3)
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ClientRequest } from '../dialects/dialect.js';
import { upstreamTimeout, upstreamUnavailable, type GatewayError } from '../errors.js';
import type { AnswerBuffers, AnswerRead } from './answer-body.js';
import type { ClientGone } from './client-gone.js';
import type { Attempt, Failure } from './fallback-trail.js';
import { upstreamHeaders } from './headers.js';
import type { UpstreamRoute } from './routing.js';
import type { SecretRedactor } from './secret-redactor.js';
import { readUpstreamError, relayedUpstreamError } from './upstream-error.js';

/** Error bodies of failed attempts are read up to this size (their message can be relayed). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

/** What every attempt needs from the upstream side, shared by all requests. */
export interface UpstreamServices {
  pools: { get(origin: string): Dispatcher };
  /** Removes provider keys from upstream error messages before they are relayed or logged. */
  providerKeys: SecretRedactor;
  /** Reads JSON answers within the per-answer and process-wide memory bounds. */
  answers: AnswerBuffers;
}

/** One request to one route. */
export interface RouteRequest {
  route: UpstreamRoute;
  body: Buffer;
  clientHeaders: IncomingHttpHeaders;
  /** Aborted when the client goes away: stops the attempt under way. */
  signal: ClientGone;
}

/** A stream (SSE) is relayed from `response.body`; a JSON answer was read, whole or up to the bound. */
export type UpstreamAnswer = { kind: 'stream' } | Exclude<AnswerRead, { kind: 'broken' }>;

export interface ForwardSuccess {
  route: UpstreamRoute;
  /** The request as this route's dialect was given it (with a rebuilt conversation, on a chained Responses request). */
  request: ClientRequest;
  response: Dispatcher.ResponseData;
  answer: UpstreamAnswer;
  attempts: Attempt[];
  upstreamMs: number;
}

/** An answer to relay, a failure to fall through, or the client's own error that every route would give. */
export type AttemptOutcome =
  { response: Dispatcher.ResponseData; answer: UpstreamAnswer } | { failure: Failure } | { final: GatewayError };

/** Sends the request to its route; throws only when the client left (nobody to answer, no fallback). */
export async function attemptRoute(
  upstream: UpstreamServices,
  { route, body, clientHeaders, signal }: RouteRequest,
): Promise<AttemptOutcome> {
  let response: Dispatcher.ResponseData;
  try {
    response = await upstream.pools.get(route.origin).request({
      method: 'POST',
      path: route.path,
      headers: upstreamHeaders(clientHeaders, route.headers, body.length),
      body,
      signal,
    });
  } catch (err) {
    if (signal.gone) throw err;
    return { failure: networkFailure(route, err) };
  }
  const status = response.statusCode;
  if (status >= 200 && status < 300) return answered(upstream, route, response);
  const text =
    readUpstreamError(await readCapped(response.body), upstream.providerKeys) ??
    (status < 400 ? redirected(status) : undefined);
  if (!shouldFallThrough(status)) return { final: relayedUpstreamError(status, text, response.headers) };
  const attempt = { provider: route.providerName, status, ...(text && { message: text.message }) };
  if (status === 401 || status === 403) {
    // Not relayed even redacted: it is about the gateway's credential, not the client's request.
    const message =
      `The upstream provider "${route.providerName}" refused the gateway's credential. ` +
      'The operator has been notified in the logs.';
    return {
      failure: {
        error: upstreamUnavailable(message),
        summary: `${route.providerName}: ${status} credential refused`,
        attempt,
      },
    };
  }
  const error = relayedUpstreamError(status < 400 ? 502 : status, text, response.headers);
  return { failure: { error, summary: `${route.providerName}: ${status} ${error.message}`, attempt } };
}

/**
 * A 2xx: a stream is relayed as it comes; a JSON answer is read first, and a broken one is a failure.
 * Which it is, the upstream's content type says: the SDK's Accept header is application/json even when it
 * streams (docs/wire.md §6.1, §10.2; docs/contract.md §5.4).
 */
async function answered(
  upstream: UpstreamServices,
  route: UpstreamRoute,
  response: Dispatcher.ResponseData,
): Promise<AttemptOutcome> {
  if (isEventStream(response)) return { response, answer: { kind: 'stream' } };
  const read = await upstream.answers.read(response.body);
  if (read.kind !== 'broken') return { response, answer: read };
  response.body.destroy();
  const what =
    read.cause === 'body_cut'
      ? 'broke off its answer before it was complete'
      : 'sent an answer that is not valid JSON';
  const error = upstreamUnavailable(
    `The upstream provider "${route.providerName}" ${what}. Please retry.`,
    read.err,
  );
  const attempt = { provider: route.providerName, status: response.statusCode, cause: read.cause };
  return { failure: { error, summary: `${route.providerName}: ${response.statusCode} ${what}`, attempt } };
}

export function isEventStream(response: Dispatcher.ResponseData): boolean {
  const type = response.headers['content-type'];
  return typeof type === 'string' && type.startsWith('text/event-stream');
}

/**
 * A 4xx other than these is the client's own fault and would fail the same way on every route. A 404
 * is the route's: its model id or its baseUrl; a 3xx (undici does not follow redirects) is a baseUrl
 * (docs/contract.md §5.2). The SDK's own retry set (408, 409, 429, 5xx) differs on purpose: a 409 is the
 * client's conflict, the same on every route (docs/wire.md §7.3).
 */
function shouldFallThrough(status: number): boolean {
  return (
    status < 400 ||
    status === 401 ||
    status === 403 ||
    status === 404 ||
    status === 408 ||
    status === 429 ||
    status >= 500
  );
}

/** undici does not follow redirects; one from an API endpoint means a wrong baseUrl. */
function redirected(status: number): { message: string } {
  return { message: `Upstream answered ${status} (a redirect); check the provider's baseUrl.` };
}

function networkFailure(route: UpstreamRoute, err: unknown): Failure {
  const code = errorCode(err);
  const message = `Upstream provider "${route.providerName}" could not be reached (${code}).`;
  const error = TIMEOUT_CODES.has(code) ? upstreamTimeout(message, err) : upstreamUnavailable(message, err);
  return {
    error,
    summary: `${route.providerName}: could not be reached (${code})`,
    attempt: { provider: route.providerName, cause: code },
  };
}

function errorCode(err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).name ?? 'UNKNOWN';
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
