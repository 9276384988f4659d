/**
 * OpenAI's rate-limit headers and 429 bodies, so clients and SDKs written against api.openai.com
 * behave the same behind the gateway.
 */
import type { OpenAIErrorBody } from '../errors.js';
import type { BucketState, Denial, Dimension } from './limiter.js';

const DIMENSION_NAMES: Readonly<Record<Dimension, string>> = {
  rpm: 'requests per min (RPM)',
  rpd: 'requests per day (RPD)',
  tpm: 'tokens per min (TPM)',
  tpd: 'tokens per day (TPD)',
};

/**
 * Go `time.Duration` style as OpenAI sends it (`20ms`, `1.5s`, `6m0s`, `2m59.56s`, `1h0m0s`).
 * Rounded up to whole ms: a client told to wait must never come back too early.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1_000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const fraction = millis % 1_000 === 0 ? '' : `.${String(millis % 1_000).padStart(3, '0').replace(/0+$/, '')}`;
  const seconds = `${Math.floor(millis / 1_000)}${fraction}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}

/**
 * The six `x-ratelimit-*` headers. OpenAI defines no daily variants, so the requests trio shows rpm
 * (rpd when only that is set) and the tokens trio tpm (else tpd); a trio is left out without a bucket.
 */
export function rateLimitHeaders(buckets: readonly BucketState[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const requests = bucketFor(buckets, 'rpm') ?? bucketFor(buckets, 'rpd');
  const tokens = bucketFor(buckets, 'tpm') ?? bucketFor(buckets, 'tpd');
  if (requests) setTrio(headers, 'requests', requests);
  if (tokens) setTrio(headers, 'tokens', tokens);
  return headers;
}

function bucketFor(buckets: readonly BucketState[], dimension: Dimension): BucketState | undefined {
  for (const bucket of buckets) if (bucket.dimension === dimension) return bucket;
  return undefined;
}

function setTrio(headers: Record<string, string>, kind: 'requests' | 'tokens', bucket: BucketState): void {
  headers[`x-ratelimit-limit-${kind}`] = String(bucket.limit);
  headers[`x-ratelimit-remaining-${kind}`] = String(bucket.remaining);
  headers[`x-ratelimit-reset-${kind}`] = formatDuration(bucket.resetMs);
}

export interface RateLimitResponse {
  status: 429;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

/**
 * The 429 in OpenAI's words. A too-large request gets `x-should-retry: false` and no retry-after:
 * the SDKs would otherwise retry something that can never pass. Add rateLimitHeaders() alongside.
 * `upstream`: the limit is a provider account's (providers.<name>.limits), not the key's.
 */
export function rateLimitError(denial: Denial, modelAlias: string, scope: 'key' | 'upstream' = 'key'): RateLimitResponse {
  const { dimension, limit, used, requested, retryAfterMs, tooLarge } = denial;
  const type = dimension === 'rpm' || dimension === 'rpd' ? 'requests' : 'tokens';
  const where = `for ${modelAlias}${scope === 'upstream' ? ' (upstream capacity shared by all keys)' : ''} on ${DIMENSION_NAMES[dimension]}`;
  const error = (message: string) => ({ error: { message, type, param: null, code: 'rate_limit_exceeded' } });
  if (tooLarge) {
    return {
      status: 429,
      headers: { 'x-should-retry': 'false' },
      body: error(`Request too large ${where}: Limit ${limit}, Requested ${requested}. The input or output tokens must be reduced in order to run successfully.`),
    };
  }
  const waitMs = Math.max(1, Math.ceil(retryAfterMs));
  return {
    status: 429,
    // retry-after is whole seconds (at least 1); the SDKs prefer retry-after-ms.
    headers: { 'retry-after': String(Math.ceil(waitMs / 1_000)), 'retry-after-ms': String(waitMs) },
    body: error(`Rate limit reached ${where}: Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${formatDuration(waitMs)}.`),
  };
}
