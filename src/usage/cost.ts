/**
 * What a request costs, from the model's `pricing` (USD per 1M tokens), and the money unit the usage
 * stores add up.
 */
import type { Pricing } from '../config.js';
import type { Usage } from '../openai/usage.js';

const TOKENS_PER_PRICE_UNIT = 1_000_000;
const NANOS_PER_USD = 1e9;

/**
 * Cached prompt tokens at `cachedInput` (or `input` when the model has no cache discount), the rest of
 * the prompt at `input`, completion tokens at `output` (they already include reasoning tokens, which
 * are not billed twice). Full float precision: the stores decide how to sum.
 */
export function costUsd(usage: Usage, pricing: Pricing): number {
  // An upstream reporting more cached than prompt tokens must not make the uncached part negative.
  const cached = Math.min(usage.cachedTokens, usage.promptTokens);
  const uncached = usage.promptTokens - cached;
  const units =
    uncached * pricing.input +
    cached * (pricing.cachedInput ?? pricing.input) +
    usage.completionTokens * pricing.output;
  return units / TOKENS_PER_PRICE_UNIT;
}

/**
 * Stores sum costs as integer nano-dollars: integer sums are exact and order-independent (floats drift,
 * and HINCRBYFLOAT keeps only 17 digits). Nano rather than micro because a price quoted to $0.001 per
 * 1M tokens (every list price so far) is a whole number of nano-dollars per token, so rounding each
 * event loses nothing; micro-dollars would round away most single requests of a cheap model.
 * Sums stay exact below 2^53 nano-dollars (~$9M) per stored counter.
 */
export function usdToNanos(usd: number): number {
  return Number.isFinite(usd) && usd > 0 ? Math.round(usd * NANOS_PER_USD) : 0;
}

export function nanosToUsd(nanos: number): number {
  return nanos / NANOS_PER_USD;
}
