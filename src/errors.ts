/**
 * Every error a client can see leaves the gateway in OpenAI's envelope
 * (`{"error": {message, type, param, code}}`, all four keys present) so the official SDKs raise the
 * right class. Handlers throw `GatewayError`; the app's error handler
 * renders it with `renderError`.
 */

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface GatewayErrorOptions {
  status: number;
  type: string;
  code?: string | null;
  param?: string | null;
  /** Extra response headers (retry-after, x-ratelimit-*). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(message: string, options: GatewayErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.status = options.status;
    this.type = options.type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): GatewayError {
  return new GatewayError(message, { status: 400, type: 'invalid_request_error', param, code });
}

export function invalidApiKey(): GatewayError {
  return new GatewayError(
    'Incorrect API key provided. Pass a tollgate key (sk-tg-…) as "Authorization: Bearer <key>".',
    { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  );
}

/** Used both for unknown aliases and for aliases the key may not use: existence is not revealed. */
export function modelNotFound(model: string): GatewayError {
  return new GatewayError(`The model \`${model}\` does not exist or you do not have access to it.`, {
    status: 404,
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  });
}

export function notFound(method: string, url: string): GatewayError {
  return new GatewayError(`Unknown request URL: ${method} ${url.split('?')[0]}.`, {
    status: 404,
    type: 'invalid_request_error',
    code: 'unknown_url',
  });
}

export function bodyTooLarge(limitBytes: number): GatewayError {
  return new GatewayError(`Request body exceeds the gateway's limit of ${limitBytes} bytes.`, {
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
  });
}

export function upstreamUnavailable(message: string, cause?: unknown): GatewayError {
  return new GatewayError(message, { status: 502, type: 'server_error', code: 'upstream_unavailable', cause });
}

export function upstreamTimeout(message: string, cause?: unknown): GatewayError {
  return new GatewayError(message, { status: 504, type: 'server_error', code: 'upstream_timeout', cause });
}

/** An upstream's own error, relayed in the envelope with its status (its message already redacted and bounded). */
export function upstreamError(
  status: number,
  message: string,
  details: { type: string; code: string | null; param: string | null; headers: Record<string, string> },
): GatewayError {
  return new GatewayError(message, { status, ...details });
}

/** Every route failed: the last failure's status and code, a message that names each attempt. */
export function allRoutesFailed(last: GatewayError, attempts: string[]): GatewayError {
  return new GatewayError(`All ${attempts.length} routes failed: ${attempts.join('; ')}`, {
    status: last.status,
    type: last.type,
    code: last.code,
    param: last.param,
    headers: last.headers,
  });
}

/** Every route of the model goes to a provider without credentials (skipped at start-up). */
export function noCredentialedProvider(model: string, providers: string[]): GatewayError {
  return new GatewayError(
    `No configured provider for the model \`${model}\` has credentials (skipped: ${providers.join(', ')}). The operator must set their apiKey.`,
    { status: 503, type: 'server_error', code: 'no_provider_credentials' },
  );
}

export function serviceUnavailable(message: string, code = 'service_unavailable'): GatewayError {
  return new GatewayError(message, { status: 503, type: 'server_error', code });
}

/**
 * Thrown by a store (keys, usage) whose Redis cannot answer: down, stalled past its command timeout,
 * or refusing commands. Not a bug of ours, so the client gets a 503 to retry, not a 500.
 */
export class StoreUnavailableError extends Error {
  constructor(readonly store: 'keys' | 'usage', cause: unknown) {
    // The Redis error's text, for logs; clients get keyStoreUnavailable() or usageStoreUnavailable().
    super(`The ${store} store is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export function keyStoreUnavailable(): GatewayError {
  const message = 'API keys cannot be checked or changed right now. Please retry shortly.';
  return serviceUnavailable(message, 'key_store_unavailable');
}

export function usageStoreUnavailable(): GatewayError {
  const message = 'Usage and budgets cannot be read right now. Please retry shortly.';
  return serviceUnavailable(message, 'usage_store_unavailable');
}

/** Maps any thrown value (ours, Fastify's, or a bug) to a status and an OpenAI body. */
export function renderError(err: unknown, bodyLimitBytes: number): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  if (err instanceof GatewayError) return { status: err.status, body: err.toBody(), headers: err.headers };
  if (err instanceof StoreUnavailableError) {
    return render(err.store === 'keys' ? keyStoreUnavailable() : usageStoreUnavailable());
  }
  const fastifyCode = (err as { code?: string }).code;
  const statusCode = (err as { statusCode?: number }).statusCode;
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return render(bodyTooLarge(bodyLimitBytes));
  if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return render(invalidRequest('Unsupported Content-Type: send the body as application/json.', null, 'unsupported_media_type'));
  }
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    // Fastify's own 4xx (malformed JSON, empty body…): keep its status, speak OpenAI.
    const message = err instanceof Error ? err.message : 'Invalid request.';
    return render(new GatewayError(message, { status: statusCode, type: 'invalid_request_error' }));
  }
  return render(new GatewayError('The gateway had an error processing your request.', { status: 500, type: 'server_error' }));
}

function render(err: GatewayError) {
  return { status: err.status, body: err.toBody(), headers: err.headers };
}

/** Every route was refused before its attempt for want of room, and none said when it has room again. */
export function noRouteAvailable(): GatewayError {
  return new GatewayError('No upstream route has room for this request right now. Please try again shortly.', {
    status: 503,
    type: 'server_error',
    code: 'no_route_available',
    headers: { 'retry-after': '1' },
  });
}

/** Why a route was skipped before its attempt: its error, and when it has room again. */
export interface RouteRefusal {
  retryAfterMs: number;
  error: GatewayError;
}
