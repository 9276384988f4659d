/**
 * Every error a client can see leaves the gateway in OpenAI's envelope
 * (`{"error": {message, type, param, code}}`, all four keys present) so the official SDKs raise the
 * right class. Each one the gateway answers with has its constructor here, so its status, wording and
 * headers are in one place; handlers throw them and plugins/errors.ts renders them (`toClientError`).
 * (docs/wire.md §7.1, §7.2; docs/contract.md §9)
 */
import type { z } from 'zod';
import type { Denial, Dimension } from './openai/rate-limits.js';
import { formatDuration } from './openai/duration.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * Why a request was refused, for its log line (operators' "why was I refused"): the rate-limit dimension
 * of a 429, a spent budget, a model the key cannot use (or that does not exist), a missing or bad
 * credential. Set by the constructors below, so nothing has to read it back out of a message.
 */
export type RefusalReason = Dimension | 'budget' | 'model' | 'key';

export interface GatewayErrorOptions {
  status: number;
  type: string;
  code?: string | null;
  param?: string | null;
  /** Extra response headers (retry-after, x-ratelimit-*). */
  headers?: Record<string, string>;
  reason?: RefusalReason;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** Set on refusals only (never sent to the client). */
  readonly reason: RefusalReason | undefined;

  constructor(message: string, options: GatewayErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.status = options.status;
    this.type = options.type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.reason = options.reason;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * Why a route was skipped (its provider account is out of room): the error to answer with when no
 * route gets tried, and how soon the route would have room (Infinity: the request is too large for it).
 */
export interface RouteRefusal {
  retryAfterMs: number;
  error: GatewayError;
}

// 400

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): GatewayError {
  return new GatewayError(message, { status: 400, type: 'invalid_request_error', param, code });
}

/** A `previous_response_id` tollgate holds no record of for this key, worded as OpenAI words it. */
export function previousResponseNotFound(id: string): GatewayError {
  const message = `Previous response with id '${id}' not found.`;
  return invalidRequest(message, 'previous_response_id', 'previous_response_not_found');
}

/**
 * A zod failure as a 400. The two wordings differ on the wire and both stay:
 * - `openai`, for the proxied endpoints, words the first issue as api.openai.com does
 *   (`Missing required parameter: 'x'.`, `Invalid value for 'x': …`), the parameter named by its
 *   dotted path, so SDK users see what they would see from OpenAI;
 * - `summary`, for the admin API, lists every issue at once (an operator fixes them in one go) and
 *   names the offending top-level field, or the first unknown one.
 */
export function invalidRequestFromZod(error: z.ZodError, wording: 'openai' | 'summary'): GatewayError {
  return wording === 'openai' ? firstIssueAsOpenAI(error.issues[0]!) : allIssues(error.issues);
}

function firstIssueAsOpenAI(issue: z.core.$ZodIssue): GatewayError {
  const param = issue.path.join('.') || null;
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
  }
  return invalidRequest(`Invalid value for '${param ?? 'body'}': ${issue.message}.`, param, 'invalid_value');
}

function allIssues(issues: z.core.$ZodIssue[]): GatewayError {
  const first = issues[0];
  const param = first?.code === 'unrecognized_keys' ? first.keys[0] : first?.path[0];
  const message = issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ` : '') + issue.message)
    .join('; ');
  return invalidRequest(`Invalid request: ${message}.`, param === undefined ? null : String(param));
}

export function bodyNotAnObject(): GatewayError {
  return invalidRequest('The request body must be a JSON object.');
}

/** A guarded member under a case variant (`MODEL`): lenient decoders upstream would read it as `folded`. */
export function memberCaseVariant(name: string, folded: string): GatewayError {
  return invalidRequest(
    `The request body has a member '${name}': some upstreams read it as '${folded}'. ` +
      `Send '${folded}' once, in lower case.`,
    name,
    'duplicate_member',
  );
}

export function memberRepeated(name: string): GatewayError {
  return invalidRequest(
    `The request body has the member '${name}' more than once. Send it once.`,
    name,
    'duplicate_member',
  );
}

export function jsonTooDeep(maxDepth: number): GatewayError {
  return invalidRequest(
    `The request body nests arrays and objects deeper than ${maxDepth} levels.`,
    null,
    'json_too_deep',
  );
}

export function unsupportedMediaType(): GatewayError {
  return invalidRequest('Unsupported Content-Type: send the body as application/json.', null, 'unsupported_media_type');
}

/** Fastify's own 4xx (malformed JSON, an empty body…): its status and message, in OpenAI's shape. */
export function fastifyClientError(status: number, message: string): GatewayError {
  return new GatewayError(message, { status, type: 'invalid_request_error' });
}

/** GET /admin/usage: `from` after `to`, or a range the store refuses (beyond retention). */
export function invalidDateRange(reason: string, cause?: unknown): GatewayError {
  return new GatewayError(`Invalid request: ${reason}.`, {
    status: 400,
    type: 'invalid_request_error',
    param: 'from',
    cause,
  });
}

export function keyReadOnly(id: string): GatewayError {
  return invalidRequest(
    `Key ${id} comes from the config file and is read-only over the admin API; change it in the config instead.`,
    'id',
    'key_read_only',
  );
}

// 401

const CREDENTIAL_MESSAGES = {
  'api key': 'Incorrect API key provided. Pass a tollgate key (sk-tg-…) as "Authorization: Bearer <key>".',
  'admin token': 'Invalid admin token: pass "Authorization: Bearer <admin token>".',
  'metrics token': 'A valid metrics token is required.',
} as const;

/** A missing or wrong credential: a client's key (/v1), the admin token (/admin), the metrics token (/metrics). */
export function invalidApiKey(credential: keyof typeof CREDENTIAL_MESSAGES = 'api key'): GatewayError {
  return new GatewayError(CREDENTIAL_MESSAGES[credential], {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    reason: 'key',
  });
}

// 404

/**
 * Used both for unknown aliases and for aliases the key may not use: existence is not revealed
 * (docs/contract.md §5.1). `param: 'model'` departs from OpenAI, which sends null here
 * (docs/wire.md §7.4).
 */
export function modelNotFound(model: string): GatewayError {
  return new GatewayError(`The model \`${model}\` does not exist or you do not have access to it.`, {
    status: 404,
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
    reason: 'model',
  });
}

// Stored responses (GET/DELETE /v1/responses/:id, its input_items and cancel; src/responses/resource-calls.ts)

/**
 * OpenAI's 404 for a response id it does not know. A record of another key gets exactly this answer too,
 * so an id's existence is not revealed (as docs/contract.md §5.1 does for models).
 */
export function responseNotFound(id: string): GatewayError {
  return new GatewayError(`Response with id '${id}' not found.`, { status: 404, type: 'invalid_request_error' });
}

/** OpenAI cancels only background responses; a bridged response is never one (the bridge refuses background). */
export function responseNotCancellable(): GatewayError {
  return invalidRequest('Only responses created with background=true can be cancelled.');
}

/** `?stream=true` on a response the gateway built over Chat Completions: it kept the response, not its events. */
export function responseNotResumable(): GatewayError {
  return invalidRequest(
    'This response was served over Chat Completions by the gateway, which keeps the response but not its ' +
      'event stream: retrieve it without stream=true.',
    'stream',
  );
}

/** A query parameter of a list (input_items: limit, order, after) the gateway cannot read. */
export function invalidListParameter(param: string, expected: string): GatewayError {
  return invalidRequest(`Invalid value for '${param}': expected ${expected}.`, param, 'invalid_value');
}

/** The record names a provider that is no longer configured: nobody can answer for the response. */
export function responseHolderGone(id: string, provider: string): GatewayError {
  return upstreamUnavailable(
    `Response '${id}' is held by the provider "${provider}", which is no longer configured on this gateway.`,
  );
}

export function responseStoreUnavailable(): GatewayError {
  const message = 'Stored responses cannot be read or written right now. Please retry shortly.';
  return serviceUnavailable(message, 'response_store_unavailable');
}

export function notFound(method: string, url: string): GatewayError {
  return new GatewayError(`Unknown request URL: ${method} ${url.split('?')[0]}.`, {
    status: 404,
    type: 'invalid_request_error',
    code: 'unknown_url',
  });
}

export function keyNotFound(id: string): GatewayError {
  return new GatewayError(`No API key with id ${JSON.stringify(id)}.`, {
    status: 404,
    type: 'invalid_request_error',
    param: 'id',
    code: 'key_not_found',
  });
}

// 413

export function bodyTooLarge(limitBytes: number): GatewayError {
  return new GatewayError(`Request body exceeds the gateway's limit of ${limitBytes} bytes.`, {
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
  });
}

// 429

const DIMENSION_NAMES: Readonly<Record<Dimension, string>> = {
  rpm: 'requests per min (RPM)',
  rpd: 'requests per day (RPD)',
  tpm: 'tokens per min (TPM)',
  tpd: 'tokens per day (TPD)',
};

/** The key's tier limit for the model is reached; `rateLimitHeaders`: the key's x-ratelimit-* (limits/headers.ts). */
export function rateLimited(
  denial: Denial,
  modelAlias: string,
  rateLimitHeaders: Record<string, string> = {},
): GatewayError {
  return rateLimitError(denial, `for ${modelAlias}`, rateLimitHeaders);
}

/** A provider account's limit (providers.<name>.limits) is reached: upstream capacity shared by every key. */
export function providerRateLimited(denial: Denial, modelAlias: string): GatewayError {
  return rateLimitError(denial, `for ${modelAlias} (upstream capacity shared by all keys)`, {});
}

/**
 * The 429 in OpenAI's words (docs/wire.md §7.4), with its retry advice beside the x-ratelimit-*
 * headers. A too-large request gets `x-should-retry: false` and no retry-after: the SDKs retry every 429
 * unless told not to, and this one can never pass (docs/wire.md §7.3; docs/contract.md §6.5).
 */
function rateLimitError(denial: Denial, subject: string, rateLimitHeaders: Record<string, string>): GatewayError {
  const { dimension, limit, used, requested, retryAfterMs, tooLarge } = denial;
  const type = dimension === 'rpm' || dimension === 'rpd' ? 'requests' : 'tokens';
  const where = `${subject} on ${DIMENSION_NAMES[dimension]}`;
  const error = (message: string, retryAdvice: Record<string, string>) =>
    new GatewayError(message, {
      status: 429,
      type,
      code: 'rate_limit_exceeded',
      headers: { ...rateLimitHeaders, ...retryAdvice },
      reason: dimension,
    });
  if (tooLarge) {
    const message =
      `Request too large ${where}: Limit ${limit}, Requested ${requested}. ` +
      'The input or output tokens must be reduced in order to run successfully.';
    return error(message, { 'x-should-retry': 'false' });
  }
  const waitMs = Math.max(1, Math.ceil(retryAfterMs));
  // retry-after is whole seconds (at least 1); the SDKs read retry-after-ms first. Most SDK versions
  // honour a wait of up to 60 s and back off on their own beyond it (docs/wire.md §8.3).
  return error(
    `Rate limit reached ${where}: Limit ${limit}, Used ${used}, Requested ${requested}. ` +
      `Please try again in ${formatDuration(waitMs)}.`,
    {
      'retry-after': String(Math.ceil(waitMs / 1_000)),
      'retry-after-ms': String(waitMs),
    },
  );
}

/**
 * The per-IP guard (plugins/limits.ts); `retryIn` is @fastify/rate-limit's own wording of the wait. Its
 * limit is per minute, so its reason is `rpm`.
 */
export function tooManyUnauthenticatedRequests(retryIn: string): GatewayError {
  return new GatewayError(`Too many unauthenticated requests from this address. Please try again in ${retryIn}.`, {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    reason: 'rpm',
  });
}

/**
 * The key's monthly budget is spent. Not transient, and the SDKs retry every 429 unless told not to: so
 * `x-should-retry: false` (docs/wire.md §7.3, §7.4).
 */
export function insufficientQuota(budgetUsd: number, spentUsd: number): GatewayError {
  return new GatewayError(
    'You exceeded your current quota, please check your plan and billing details. ' +
      `This key's monthly budget of $${budgetUsd} is spent ($${spentUsd.toFixed(4)} used); ` +
      'it renews on the 1st (UTC).',
    {
      status: 429,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      headers: { 'x-should-retry': 'false' },
      reason: 'budget',
    },
  );
}

// 5xx

export function internalError(): GatewayError {
  return new GatewayError('The gateway had an error processing your request.', { status: 500, type: 'server_error' });
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
    reason: last.reason,
  });
}

/** Every route of the model goes to a provider without credentials (skipped at start-up). */
export function noCredentialedProvider(model: string, providers: string[]): GatewayError {
  return new GatewayError(
    `No configured provider for the model \`${model}\` has credentials (skipped: ${providers.join(', ')}). ` +
      'The operator must set their apiKey.',
    { status: 503, type: 'server_error', code: 'no_provider_credentials' },
  );
}

function serviceUnavailable(message: string, code = 'service_unavailable'): GatewayError {
  return new GatewayError(message, { status: 503, type: 'server_error', code });
}

/** Forwarding ended without trying a route and without a refusal of its own to answer with. */
export function noRouteAvailable(): GatewayError {
  return new GatewayError('No upstream route has room for this request right now. Please try again shortly.', {
    status: 503,
    type: 'server_error',
    code: 'no_route_available',
    headers: { 'retry-after': '1' },
  });
}

/** redis.failMode: closed and the limiter's Redis cannot answer. */
export function limiterUnavailable(): GatewayError {
  return serviceUnavailable(
    'Rate limiting is unavailable right now (redis.failMode=closed). Please retry shortly.',
    'limiter_unavailable',
  );
}

/**
 * Thrown by a store (keys, usage, responses) whose Redis cannot answer: down, stalled past its command timeout,
 * or refusing commands. Not a bug of ours, so the client gets a 503 to retry, not a 500.
 */
export class StoreUnavailableError extends Error {
  constructor(readonly store: 'keys' | 'usage' | 'responses', cause: unknown) {
    // The Redis error's text, for logs; clients get the store's own 503 (STORE_UNAVAILABLE in toClientError).
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

const STORE_UNAVAILABLE: Record<StoreUnavailableError['store'], () => GatewayError> = {
  keys: keyStoreUnavailable,
  usage: usageStoreUnavailable,
  responses: responseStoreUnavailable,
};

/**
 * Maps any thrown value (ours, Fastify's, or a bug) to the error the client gets. `bug`: it was none
 * of these, so the client gets a 500 and the operator needs its stack.
 */
export function toClientError(err: unknown, bodyLimitBytes: number): { error: GatewayError; bug: boolean } {
  if (err instanceof GatewayError) return { error: err, bug: false };
  if (err instanceof StoreUnavailableError) return { error: STORE_UNAVAILABLE[err.store](), bug: false };
  const fastifyCode = (err as { code?: string }).code;
  const statusCode = (err as { statusCode?: number }).statusCode;
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return { error: bodyTooLarge(bodyLimitBytes), bug: false };
  if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { error: unsupportedMediaType(), bug: false };
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    const message = err instanceof Error ? err.message : 'Invalid request.';
    return { error: fastifyClientError(statusCode, message), bug: false };
  }
  return { error: internalError(), bug: true };
}

/**
 * The route's provider takes a reseller's form body, which has no member for this one; a later route
 * that speaks OpenAI's own API may still serve the request.
 */
export function unsupportedByFormProvider(param: string, what: string): GatewayError {
  const message = `The provider for this model takes a form body, which cannot carry ${what} (\`${param}\`).`;
  return invalidRequest(message, param, 'unsupported_parameter');
}

/**
 * A Responses request that a Chat Completions-only provider cannot be asked (the bridge,
 * src/dialects/responses-over-chat.ts): the route is refused, so a later one may serve it.
 */
export function unsupportedByChatProvider(param: string, what: string): GatewayError {
  const message =
    `The provider for this model serves Chat Completions only, which cannot carry ${what} (\`${param}\`).`;
  return invalidRequest(message, param, 'unsupported_parameter');
}
