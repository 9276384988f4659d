/**
 * One usage shape for both APIs. Chat reports prompt/completion tokens, Responses input/output
 * tokens; both nest cached and reasoning counts (openai-wire.md §5.3, §6).
 */
import { OPEN_BRACE, skipWhitespace, valueEnd } from '../json-scan.js';

export interface Usage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  /** True when counted by tollgate (a cut stream) rather than reported by the upstream. */
  estimated: boolean;
}

type Json = Record<string, unknown> | undefined;

const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Accepts a Chat `usage` or a Responses `usage` object; undefined when it is neither. */
export function normaliseUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const isChat = 'prompt_tokens' in u;
  if (!isChat && !('input_tokens' in u)) return undefined;
  const inputDetails = (isChat ? u.prompt_tokens_details : u.input_tokens_details) as Json;
  const outputDetails = (isChat ? u.completion_tokens_details : u.output_tokens_details) as Json;
  const promptTokens = int(isChat ? u.prompt_tokens : u.input_tokens);
  const completionTokens = int(isChat ? u.completion_tokens : u.output_tokens);
  return {
    promptTokens,
    cachedTokens: int(inputDetails?.cached_tokens),
    completionTokens,
    reasoningTokens: int(outputDetails?.reasoning_tokens),
    totalTokens: int(u.total_tokens) || promptTokens + completionTokens,
    estimated: false,
  };
}

const USAGE_KEY = Buffer.from('"usage":');

/**
 * Usage of a whole non-streamed body (either API); undefined if the body carries none. Only the usage
 * object is parsed, not the whole answer: it sits near the end, and a `"usage":` inside a string
 * value would be escaped (`\"usage\":`), so the last literal match is the real key.
 */
export function usageFromBody(body: Buffer): Usage | undefined {
  const key = body.lastIndexOf(USAGE_KEY);
  if (key < 0) return undefined;
  const start = skipWhitespace(body, key + USAGE_KEY.length);
  const end = body[start] === OPEN_BRACE ? valueEnd(body, start) : -1; // `"usage": null` has none
  if (end < 0) return undefined;
  try {
    return normaliseUsage(JSON.parse(body.toString('utf8', start, end)));
  } catch {
    return undefined;
  }
}
