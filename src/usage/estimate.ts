/**
 * Usage for a stream that ended without the upstream's usage report (cut short, or the client
 * left): the prompt as tollgate counted it at admission plus the completion text the client
 * actually received, flagged `estimated` (DESIGN §6).
 */
import { countTextTokens } from '../limits/prompt-tokens.js';
import type { Usage } from './usage.js';

export function estimateUsage(promptTokens: number, completionText: string): Usage {
  const completionTokens = countTextTokens(completionText);
  return {
    promptTokens,
    cachedTokens: 0,
    completionTokens,
    reasoningTokens: 0,
    totalTokens: promptTokens + completionTokens,
    estimated: true,
  };
}
