import t from 'tap';
import { rateLimited, type GatewayError } from '../../../src/errors.js';
import { rateLimitHeaders } from '../../../src/limits/headers.js';
import type { Denial } from '../../../src/limits/limiter.js';
import { formatDuration } from '../../../src/openai/duration.js';

/** The 429 as it goes out: status, headers, body. */
const rateLimitError = (denial: Denial, alias: string) => answer(rateLimited(denial, alias));
const answer = (err: GatewayError) => ({ status: err.status, headers: err.headers, body: err.toBody() });

t.test('formatDuration writes Go durations as OpenAI sends them', async (t) => {
  const cases: [number, string][] = [
    [0, '0s'], [-5, '0s'], [0.3, '1ms'], [20, '20ms'], [120, '120ms'], [999, '999ms'], [1_000, '1s'], [1_500, '1.5s'],
    [1_200, '1.2s'], [9_816, '9.816s'], [59_999, '59.999s'], [60_000, '1m0s'], [360_000, '6m0s'], [179_560, '2m59.56s'],
    [3_600_000, '1h0m0s'], [3_661_001, '1h1m1.001s'], [86_400_000, '24h0m0s'],
  ];
  for (const [ms, text] of cases) t.equal(formatDuration(ms), text, `${ms} ms is ${text}`);
});

t.test('rateLimitHeaders prefers per-minute buckets and omits missing ones', async (t) => {
  const rpm = { dimension: 'rpm' as const, limit: 60, remaining: 59, resetMs: 1_000 };
  const rpd = { dimension: 'rpd' as const, limit: 1_000, remaining: 10, resetMs: 3_600_000 };
  const tpd = { dimension: 'tpd' as const, limit: 150_000, remaining: 149_984, resetMs: 360_000 };
  t.same(rateLimitHeaders([rpd, rpm, tpd]), {
    'x-ratelimit-limit-requests': '60',
    'x-ratelimit-remaining-requests': '59',
    'x-ratelimit-reset-requests': '1s',
    'x-ratelimit-limit-tokens': '150000',
    'x-ratelimit-remaining-tokens': '149984',
    'x-ratelimit-reset-tokens': '6m0s',
  }, 'requests from rpm over rpd, tokens from tpd when there is no tpm');
  t.same(rateLimitHeaders([rpd]), {
    'x-ratelimit-limit-requests': '1000',
    'x-ratelimit-remaining-requests': '10',
    'x-ratelimit-reset-requests': '1h0m0s',
  }, 'rpd alone fills the requests trio and the tokens trio is omitted');
  t.same(rateLimitHeaders([]), {}, 'no buckets, no headers');
});

t.test('rateLimitError speaks OpenAI', async (t) => {
  const tokens = rateLimitError(
    { dimension: 'tpm', limit: 200_000, used: 199_000, requested: 1_500, retryAfterMs: 1_200, tooLarge: false },
    'gpt-4.1-nano',
  );
  t.same(
    tokens,
    {
      status: 429,
      headers: { 'retry-after': '2', 'retry-after-ms': '1200' },
      body: {
        error: {
          message:
            'Rate limit reached for gpt-4.1-nano on tokens per min (TPM): Limit 200000, Used 199000, Requested 1500. ' +
            'Please try again in 1.2s.',
          type: 'tokens',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
    },
    'a token-rate 429',
  );

  const requests = rateLimitError(
    { dimension: 'rpd', limit: 3, used: 3, requested: 1, retryAfterMs: 20, tooLarge: false },
    'mini',
  );
  t.equal(requests.body.error.type, 'requests', 'request buckets have type requests');
  t.equal(
    requests.body.error.message,
    'Rate limit reached for mini on requests per day (RPD): Limit 3, Used 3, Requested 1. Please try again in 20ms.',
    'RPD wording',
  );
  t.equal(requests.headers['retry-after'], '1', 'retry-after is at least one second');
  t.equal(requests.headers['retry-after-ms'], '20', 'retry-after-ms keeps the precision');

  const tooLarge = rateLimitError(
    { dimension: 'tpm', limit: 40_000, used: 0, requested: 50_000, retryAfterMs: 0, tooLarge: true },
    'gpt-4.1-nano',
  );
  t.equal(
    tooLarge.body.error.message,
    'Request too large for gpt-4.1-nano on tokens per min (TPM): Limit 40000, Requested 50000. ' +
      'The input or output tokens must be reduced in order to run successfully.',
    'too-large wording',
  );
  t.same(
    tooLarge.headers,
    { 'x-should-retry': 'false' },
    'too large: the SDKs are told not to retry, and no retry-after is promised',
  );
  t.equal(tooLarge.body.error.code, 'rate_limit_exceeded', 'same code as OpenAI uses');
});
