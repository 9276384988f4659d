/**
 * One usage shape for both APIs. Chat reports prompt/completion tokens, Responses input/output
 * tokens; both nest cached and reasoning counts (docs/wire.md §3).
 *
 * Counts come from the upstream and are checked here, at the edge: a count is a non-negative integer,
 * clamped to MAX_REPORTED_TOKENS. A usage whose prompt or completion count is anything else (negative,
 * fractional, a string, missing) is no usage at all, and the gateway estimates it instead, as for a
 * stream that was cut short. (docs/contract.md §7.1)
 */

/**
 * The token counts of a usage, in the order reports list them: every list of usage counters (stores,
 * rows, metrics) is built from this one.
 */
export const TOKEN_COUNTS = ['promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens'] as const;
export type TokenCount = (typeof TOKEN_COUNTS)[number];

export interface Usage extends Record<TokenCount, number> {
  totalTokens: number;
  /** True when counted by tollgate (a cut stream) rather than reported by the upstream. */
  estimated: boolean;
}

/**
 * The most tokens one count of one answer may report: 2^31, hundreds of times the largest context
 * window any model offers today. Larger counts (`1e21`) are clamped to it, so every stored sum stays an
 * exact integer (Redis counters are 64-bit, JavaScript's exact up to 2^53).
 */
export const MAX_REPORTED_TOKENS = 2 ** 31;

type Json = Record<string, unknown> | undefined;

/** A reported count, or undefined when it is not one. */
function count(v: unknown): number | undefined {
  if (typeof v !== 'number' || !(v >= 0)) return undefined; // negative, NaN, a string, null
  if (v >= MAX_REPORTED_TOKENS) return MAX_REPORTED_TOKENS; // also Infinity (`1e400` parses to it)
  return Number.isInteger(v) ? v : undefined;
}

/** Accepts a Chat `usage` or a Responses `usage` object; undefined when it is neither, or not credible. */
export function normaliseUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const isChat = 'prompt_tokens' in u;
  const promptTokens = count(isChat ? u.prompt_tokens : u.input_tokens);
  const completionTokens = count(isChat ? u.completion_tokens : u.output_tokens);
  if (promptTokens === undefined || completionTokens === undefined) return undefined;
  const inputDetails = (isChat ? u.prompt_tokens_details : u.input_tokens_details) as Json;
  const outputDetails = (isChat ? u.completion_tokens_details : u.output_tokens_details) as Json;
  return {
    promptTokens,
    // Parts of the counts above, so never more than them.
    cachedTokens: Math.min(count(inputDetails?.cached_tokens) ?? 0, promptTokens),
    completionTokens,
    reasoningTokens: Math.min(count(outputDetails?.reasoning_tokens) ?? 0, completionTokens),
    // What limits settle against: never less than its parts, whatever the upstream says.
    totalTokens: Math.max(count(u.total_tokens) ?? 0, promptTokens + completionTokens),
    estimated: false,
  };
}
