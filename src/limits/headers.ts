/**
 * OpenAI's x-ratelimit-* headers, so clients and SDKs written against api.openai.com behave the same
 * behind the gateway. They go out on admitted requests and on the key's 429 (errors.ts rateLimited,
 * which adds the retry advice). (docs/wire.md §8.1)
 */
import { formatDuration } from '../openai/duration.js';
import type { BucketState, Dimension } from './limiter.js';

/**
 * The six `x-ratelimit-*` headers. OpenAI defines no daily variants, so the requests trio shows rpm
 * (rpd when only that is set) and the tokens trio tpm (else tpd); a trio is left out without a bucket.
 * (docs/wire.md §8.1; docs/contract.md §6.6)
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
