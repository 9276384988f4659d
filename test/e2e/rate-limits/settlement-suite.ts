/**
 * OpenAI's x-ratelimit-* headers on proxied answers (non-stream and stream), and settlement: what a
 * request reserved beyond its real usage is given back before the next request is admitted — also
 * for streams, and for a stream the client leaves early.
 */
import type { Test } from 'tap';
import { ALIAS } from '../../helpers/gateway.js';
import { estimatePromptTokens } from '../../../src/openai/prompt-tokens.js';
import type { Usage } from '../../../src/openai/usage.js';
import {
  MOCK_TOTAL_TOKENS,
  PROMPT_ESTIMATE,
  limitedGateway,
  messages,
  num,
  parseDuration,
  refilledSince,
  type Backend,
} from '../../helpers/rate-limit-harness.js';

export function settlementSuite(t: Test, backend: Backend): void {
  t.test('x-ratelimit-* headers on non-stream and stream answers', async (t) => {
    // rpm 10: one request per 6 s; tpm 1200: one token per 50 ms. What the test's own run time refills
    // is measured from here and allowed for.
    const limited = await limitedGateway(t, backend, { tier: { rpm: 10, tpm: 1_200 } });
    const client = limited.gw.client();
    const started = performance.now();
    const first = await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 100 }).withResponse();
    await limited.settled(1);
    const reservation = PROMPT_ESTIMATE + 100;
    t.match(
      Object.fromEntries(first.response.headers),
      {
        'x-ratelimit-limit-requests': '10',
        'x-ratelimit-remaining-requests': '9',
        'x-ratelimit-reset-requests': '6s',
        'x-ratelimit-limit-tokens': '1200',
        'x-ratelimit-remaining-tokens': String(1_200 - reservation),
        'x-ratelimit-reset-tokens': `${(reservation * 50) / 1000}s`,
      },
      'first answer: exact numbers right after admission',
    );

    // Each later request: its reservation on top of the real usage (17) of every earlier one.
    let used = MOCK_TOTAL_TOKENS;
    const later = [
      [
        'stream',
        () =>
          client.chat.completions.create({ model: ALIAS, messages, max_tokens: 100, stream: true }).withResponse(),
      ],
      [
        'stream with include_usage',
        () =>
          client.chat.completions
            .create({
              model: ALIAS,
              messages,
              max_tokens: 100,
              stream: true,
              stream_options: { include_usage: true },
            })
            .withResponse(),
      ],
      [
        'responses stream',
        () =>
          client.responses
            .create({ model: ALIAS, input: 'hi', max_output_tokens: 100, stream: true })
            .withResponse(),
      ],
      [
        'non-stream',
        () => client.chat.completions.create({ model: ALIAS, messages, max_tokens: 100 }).withResponse(),
      ],
    ] as const;
    for (const [i, [label, send]] of later.entries()) {
      const { data, response } = await send();
      if (Symbol.asyncIterator in data) for await (const _ of data as AsyncIterable<unknown>);
      await limited.settled(i + 2); // the SDK stops at [DONE]; the gateway settles when the upstream ends
      const own = label === 'responses stream' ? estimatePromptTokens({ input: 'hi' }, 'responses') + 100 : reservation;
      const h = response.headers;
      t.equal(h.get('x-ratelimit-limit-requests'), '10', `${label}: limit-requests`);
      t.equal(num(h, 'x-ratelimit-remaining-requests'), 8 - i, `${label}: remaining-requests down by one`);
      const resetRequests = parseDuration(h.get('x-ratelimit-reset-requests'));
      const full = (i + 2) * 6_000;
      t.ok(
        resetRequests <= full && resetRequests >= full - (performance.now() - started) - 1,
        `${label}: reset-requests ${h.get('x-ratelimit-reset-requests')} is ${(i + 2) * 6} s minus test time`,
      );
      const remainingTokens = num(h, 'x-ratelimit-remaining-tokens');
      const expected = 1_200 - used - own;
      t.ok(
        remainingTokens >= expected && remainingTokens <= expected + refilledSince(started, 1_200),
        `${label}: remaining-tokens ${remainingTokens} ≈ ${expected} (earlier reservations settled to real usage)`,
      );
      t.ok(
        parseDuration(h.get('x-ratelimit-reset-tokens')) > 0,
        `${label}: reset-tokens is a duration (${h.get('x-ratelimit-reset-tokens')})`,
      );
      used += MOCK_TOTAL_TOKENS;
    }
  });

  t.test('a large reservation with small real usage is refunded (non-stream, stream, aborted stream)', async (t) => {
    // tpm 6000: one token per 10 ms. A missing refund would show as ~2000 tokens fewer.
    const limited = await limitedGateway(t, backend, { tier: { rpm: 100, tpm: 6_000 } });
    const client = limited.gw.client();
    const started = performance.now();
    const reservation = PROMPT_ESTIMATE + 2_000;
    const big = { model: ALIAS, messages, max_tokens: 2_000 };
    let used = 0;
    let requests = 0;
    const remainingOnNext = async (label: string) => {
      const { response } = await client.chat.completions.create(big).withResponse();
      await limited.settled(++requests);
      const remaining = num(response.headers, 'x-ratelimit-remaining-tokens');
      const expected = 6_000 - used - reservation;
      const unrefunded = Math.max(0, 6_000 - (requests + 1) * reservation);
      t.ok(
        remaining >= expected && remaining <= expected + refilledSince(started, 6_000),
        `after ${label}: remaining-tokens ${remaining} ≈ ${expected} (without refunds: ${unrefunded})`,
      );
      used += MOCK_TOTAL_TOKENS; // this probe's own usage
    };

    const first = await client.chat.completions.create(big).withResponse();
    await limited.settled(++requests);
    t.equal(
      num(first.response.headers, 'x-ratelimit-remaining-tokens'),
      6_000 - reservation,
      'the first request reserved prompt + max_tokens',
    );
    used += first.data.usage!.total_tokens;
    await remainingOnNext('a non-stream answer');

    const stream = await client.chat.completions.create({ ...big, stream: true });
    for await (const _ of stream);
    await limited.settled(++requests);
    used += MOCK_TOTAL_TOKENS;
    await remainingOnNext('a stream');

    limited.mock.behave((req) => (req.body?.stream ? { kind: 'slow', chunkDelayMs: 300 } : { kind: 'ok' }));
    const aborted = await client.chat.completions.create({ ...big, stream: true });
    for await (const chunk of aborted) if (chunk.choices[0]?.delta.content) break; // leaves after the first word
    const line = await limited.gw.logs.waitFor(
      (e) => e.msg === 'request completed' && e.stream === true && e.completed === false,
      5_000,
    );
    requests += 1;
    const usage = line.usage as Usage;
    t.ok(
      usage.estimated && usage.totalTokens < 50,
      `the aborted stream was settled to its estimated usage (${usage.totalTokens})`,
    );
    used += usage.totalTokens;
    await remainingOnNext('an aborted stream');
  });
}
