/**
 * POST /v1/responses/input_tokens, counted here with the admission estimator (o200k_base plus the message
 * overhead, src/openai/prompt-tokens.ts) rather than asked of a provider: the count a request would reserve.
 */
import { estimatePromptTokens } from '../openai/prompt-tokens.js';
import type { ProxyBody } from '../openai/request-body.js';
import type { HistoryItem } from './history.js';
import { inputAsItems } from './items.js';

/**
 * The body's prompt tokens; `history`, the items of the `previous_response_id` chain (oldest first), is
 * counted before the body's own input, as the upstream would receive it.
 */
export function countInputTokens(body: ProxyBody, history: readonly HistoryItem[] = []): number {
  if (history.length === 0) return estimatePromptTokens(body, 'responses');
  return estimatePromptTokens({ ...body, input: [...history, ...inputAsItems(body.input)] }, 'responses');
}
