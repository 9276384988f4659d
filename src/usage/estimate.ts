/**
 * Usage for a stream that ended without the upstream's usage report (cut short, or the client
 * left): the prompt as tollgate counted it at admission plus the completion text the client
 * actually received, flagged `estimated`. (docs/contract.md §7.2)
 */
import { countTextTokens } from '../openai/prompt-tokens.js';
import type { StreamedText } from '../openai/sse-tap.js';
import type { Usage } from '../openai/usage.js';

/** `streamed.sample` is counted; a longer stream (`streamed.chars`) is extrapolated at the sample's tokens per char. */
export function estimateUsage(promptTokens: number, streamed: StreamedText): Usage {
  const sampleTokens = countTextTokens(streamed.sample);
  const { length } = streamed.sample;
  const completionTokens =
    length >= streamed.chars ? sampleTokens : Math.ceil((sampleTokens * streamed.chars) / Math.max(length, 1));
  return {
    promptTokens,
    cachedTokens: 0,
    completionTokens,
    reasoningTokens: 0,
    totalTokens: promptTokens + completionTokens,
    estimated: true,
  };
}
