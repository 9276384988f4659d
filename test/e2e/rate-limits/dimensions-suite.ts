/**
 * Each tier dimension trips at exactly its limit through the gateway, with OpenAI's 429 (type, code,
 * wording, retry-after headers); a request larger than the whole TPM is refused for good.
 */
import type { Test } from 'tap';
import OpenAI, { RateLimitError } from 'openai';
import { ALIAS } from '../../helpers/gateway.js';
import {
  PROMPT_ESTIMATE,
  assertEnvelope,
  limitedGateway,
  num,
  refilledSince,
  type Backend,
} from '../../helpers/rate-limit-harness.js';

export function dimensionsSuite(t: Test, backend: Backend): void {
  t.test('rpm trips at exactly its limit', async (t) => {
    const limited = await limitedGateway(t, backend, { tier: { rpm: 3 } });
    for (let i = 1; i <= 3; i++) {
      const ok = await limited.chat();
      t.equal(ok.status, 200, `request ${i} of 3 passes`);
      t.equal(num(ok.headers, 'x-ratelimit-remaining-requests'), 3 - i, `request ${i}: remaining-requests ${3 - i}`);
    }
    const refused = await limited.chat();
    t.equal(refused.status, 429, 'request 4 is refused');
    assertEnvelope(t, refused.body, { type: 'requests', code: 'rate_limit_exceeded', param: null }, 'rpm 429');
    t.match(
      refused.body?.error?.message,
      new RegExp(
        `^Rate limit reached for ${ALIAS.replaceAll('.', '\\.')} on requests per min \\(RPM\\): ` +
          'Limit 3, Used 3, Requested 1\\. Please try again in \\S+\\.$',
      ),
      'message in OpenAI wording, naming RPM',
    );
    const retryAfter = num(refused.headers, 'retry-after');
    const retryAfterMs = num(refused.headers, 'retry-after-ms');
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `retry-after is whole seconds >= 1 (${retryAfter})`);
    t.ok(
      retryAfterMs > 15_000 && retryAfterMs <= 20_000,
      `retry-after-ms is about one 20 s interval (${retryAfterMs})`,
    );
    t.equal(retryAfter, Math.ceil(retryAfterMs / 1000), 'retry-after is retry-after-ms rounded up');
    t.equal(num(refused.headers, 'x-ratelimit-remaining-requests'), 0, 'the 429 also carries the bucket headers');
    t.equal(limited.mock.requests.length, 3, 'the refused request never reached the upstream');

    const err = await limited.gw
      .client()
      .chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    t.type(err, RateLimitError, 'the SDK raises RateLimitError');
    t.match(err, { status: 429, type: 'requests', code: 'rate_limit_exceeded' }, 'with the type and code');
  });

  t.test('tpm trips at exactly its limit (reservation = prompt estimate + max_tokens)', async (t) => {
    // Real usage equals the reservation (prompt as estimated, every allowed token generated): no settlement.
    const reservation = 250;
    const maxTokens = reservation - PROMPT_ESTIMATE;
    const limited = await limitedGateway(t, backend, {
      tier: { rpm: 100, tpm: 1_000 },
      mock: { promptTokens: PROMPT_ESTIMATE, text: 'word '.repeat(maxTokens + 50) },
    });
    const started = performance.now();
    for (let i = 1; i <= 4; i++) {
      const ok = await limited.chat({ max_tokens: maxTokens });
      t.equal(ok.status, 200, `request ${i} of 4 passes`);
      t.equal(ok.body?.usage?.total_tokens, reservation, `request ${i} used exactly what it reserved`);
      const remaining = num(ok.headers, 'x-ratelimit-remaining-tokens');
      // tpm 1000 refills one token per 60 ms: allow what the time the requests took refilled.
      t.ok(
        remaining >= 1_000 - i * reservation &&
          remaining <= 1_000 - i * reservation + refilledSince(started, 1_000),
        `request ${i}: remaining-tokens ${remaining}`,
      );
    }
    const refused = await limited.chat({ max_tokens: maxTokens });
    t.equal(refused.status, 429, 'request 5 is refused');
    assertEnvelope(t, refused.body, { type: 'tokens', code: 'rate_limit_exceeded', param: null }, 'tpm 429');
    t.match(
      refused.body?.error?.message,
      /on tokens per min \(TPM\): Limit 1000, Used \d+, Requested 250\. Please try again in /,
      'message names TPM',
    );
    t.ok(
      num(refused.headers, 'retry-after') >= 1 && num(refused.headers, 'retry-after-ms') > 10_000,
      'retry-after headers give the refill time',
    );
    t.equal(limited.mock.requests.length, 4, 'the refused request never reached the upstream');
  });

  t.test('rpd trips at exactly its limit', async (t) => {
    const limited = await limitedGateway(t, backend, { tier: { rpm: 100, rpd: 2 } });
    for (let i = 1; i <= 2; i++) t.equal((await limited.chat()).status, 200, `request ${i} of 2 passes`);
    const refused = await limited.chat();
    t.equal(refused.status, 429, 'request 3 is refused');
    assertEnvelope(t, refused.body, { type: 'requests', code: 'rate_limit_exceeded', param: null }, 'rpd 429');
    t.match(
      refused.body?.error?.message,
      /on requests per day \(RPD\): Limit 2, Used 2, Requested 1\./,
      'message names RPD',
    );
    t.ok(
      num(refused.headers, 'retry-after-ms') > 40_000_000,
      `retry-after-ms is about half a day (${num(refused.headers, 'retry-after-ms')})`,
    );
    t.equal(
      num(refused.headers, 'retry-after'),
      Math.ceil(num(refused.headers, 'retry-after-ms') / 1000),
      'retry-after in whole seconds',
    );
  });

  t.test('a request larger than the whole tpm is refused at once, for good', async (t) => {
    const limited = await limitedGateway(t, backend, { tier: { tpm: 1_000 } });
    const refused = await limited.chat({ max_tokens: 2_000 });
    t.equal(refused.status, 429, 'refused with 429');
    assertEnvelope(t, refused.body, { type: 'tokens', code: 'rate_limit_exceeded', param: null }, 'too large');
    t.match(
      refused.body?.error?.message,
      `Request too large for ${ALIAS} on tokens per min (TPM): Limit 1000, Requested ${2_000 + PROMPT_ESTIMATE}. ` +
        'The input or output tokens must be reduced',
      'OpenAI wording for a request too large',
    );
    t.equal(refused.headers['x-should-retry'], 'false', 'x-should-retry: false');
    t.equal(refused.headers['retry-after'], undefined, 'no retry-after: waiting cannot help');

    let attempts = 0;
    const sdk = new OpenAI({
      apiKey: limited.gw.key,
      baseURL: `${limited.gw.url}/v1`, // default maxRetries (2)
      fetch: (url, init) => {
        attempts += 1;
        return fetch(url, init);
      },
    });
    const err = await sdk.chat.completions
      .create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2_000 })
      .catch((e: unknown) => e);
    t.type(err, RateLimitError, 'the SDK raises RateLimitError');
    t.equal(attempts, 1, 'and does not retry it');
    t.equal(limited.mock.requests.length, 0, 'nothing was sent upstream');
    t.equal((await limited.chat({ max_tokens: 100 })).status, 200, 'the too-large request consumed nothing');
  });
}
