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
import { upstreamUnavailable, type GatewayError } from '../errors.js';
import type { AnswerBuffers, AnswerRead } from './answer-body.js';
import type { ClientGone } from './client-gone.js';
import type { Attempt, Failure } from './fallback-trail.js';
import { upstreamHeaders } from './headers.js';
import type { UpstreamRoute } from './routing.js';
import type { SecretRedactor } from './secret-redactor.js';
import {
  credentialRefused,
  readErrorBody,
  readUpstreamError,
  redirected,
  relayedUpstreamError,
  unreachable,
} from './upstream-error.js';

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
    readUpstreamError(await readErrorBody(response.body), upstream.providerKeys) ??
    (status < 400 ? redirected(status) : undefined);
  if (!shouldFallThrough(status)) return { final: relayedUpstreamError(status, text, response.headers) };
  const attempt = { provider: route.providerName, status, ...(text && { message: text.message }) };
  if (status === 401 || status === 403) {
    const error = credentialRefused(route.providerName);
    return { failure: { error, summary: `${route.providerName}: ${status} credential refused`, attempt } };
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

function networkFailure(route: UpstreamRoute, err: unknown): Failure {
  const { error, code } = unreachable(route.providerName, err);
  return {
    error,
    summary: `${route.providerName}: could not be reached (${code})`,
    attempt: { provider: route.providerName, cause: code },
  };
}
