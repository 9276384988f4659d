import t, { type Test } from 'tap';
import { costUsd, nanosToUsd, usdToNanos } from '../../../src/usage/cost.js';
import type { Usage } from '../../../src/openai/usage.js';

/** gpt-4.1-nano list prices, USD per 1M tokens. */
const NANO = { input: 0.1, cachedInput: 0.025, output: 0.4 };
const usage = (promptTokens: number, cachedTokens: number, completionTokens: number, reasoningTokens = 0): Usage => ({
  promptTokens,
  cachedTokens,
  completionTokens,
  reasoningTokens,
  totalTokens: promptTokens + completionTokens,
  estimated: false,
});
const close = (t: Test, actual: number, expected: number, message: string) =>
  t.ok(Math.abs(actual - expected) < 1e-15, `${message} (${actual} vs ${expected})`);

t.test('cached prompt tokens at cachedInput, the rest at input, completion at output', async (t) => {
  close(
    t,
    costUsd(usage(1000, 200, 500), NANO),
    800 * 0.1e-6 + 200 * 0.025e-6 + 500 * 0.4e-6,
    '1000 prompt (200 cached) + 500 completion',
  );
  close(t, costUsd(usage(1000, 200, 500), NANO), 0.000285, 'which is $0.000285');
});

t.test('reasoning tokens are part of completion tokens, not billed again', async (t) => {
  close(t, costUsd(usage(0, 0, 500, 300), NANO), 500 * 0.4e-6, 'only the 500 completion tokens count');
});

t.test('without cachedInput, cached tokens cost the input price', async (t) => {
  close(t, costUsd(usage(1000, 200, 0), { input: 0.1, output: 0.4 }), 1000 * 0.1e-6, 'all 1000 prompt tokens at input');
});

t.test('more cached than prompt tokens (a confused upstream) never makes the cost negative', async (t) => {
  close(t, costUsd(usage(100, 500, 0), NANO), 100 * 0.025e-6, 'capped at the prompt tokens, all cached');
});

t.test('zero usage and free models cost nothing', async (t) => {
  t.equal(costUsd(usage(0, 0, 0), NANO), 0, 'no tokens');
  t.equal(costUsd(usage(1000, 0, 1000), { input: 0, output: 0 }), 0, 'zero pricing');
});

t.test('full precision: no rounding of tiny costs', async (t) => {
  close(t, costUsd(usage(1, 0, 0), NANO), 1e-7, 'one input token is $0.0000001');
  close(t, costUsd(usage(1, 1, 0), NANO), 2.5e-8, 'one cached token is $0.000000025');
});

t.test('nano-dollars: exact for list prices, non-positive and non-finite costs count as zero', async (t) => {
  t.equal(usdToNanos(costUsd(usage(1000, 200, 500), NANO)), 285_000, '$0.000285 is 285,000 nano-dollars');
  t.equal(usdToNanos(2.5e-8), 25, 'one cached nano token');
  t.equal(nanosToUsd(285_000), 0.000285, 'and back');
  t.equal(usdToNanos(-1), 0, 'negative');
  t.equal(usdToNanos(Number.NaN), 0, 'NaN');
});
