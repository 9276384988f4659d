/**
 * One usage shape for both APIs. Chat reports prompt/completion tokens, Responses input/output
 * tokens; both nest cached and reasoning counts (openai-wire.md §5.3, §6).
 */
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
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;

/**
 * Usage of a whole non-streamed body (either API); undefined if the body carries none. Only the usage
 * object is parsed, not the whole answer: it sits near the end, and a `"usage":` inside a string
 * value would be escaped (`\"usage\":`), so the last literal match is the real key.
 */
export function usageFromBody(body: Buffer): Usage | undefined {
  const key = body.lastIndexOf(USAGE_KEY);
  if (key < 0) return undefined;
  let start = key + USAGE_KEY.length;
  while (body[start] === SPACE) start++;
  const end = body[start] === OPEN_BRACE ? matchingBrace(body, start) : -1; // `"usage": null` has none
  if (end < 0) return undefined;
  try {
    return normaliseUsage(JSON.parse(body.toString('utf8', start, end + 1)));
  } catch {
    return undefined;
  }
}

/** Index of the brace closing the object that opens at `start`, skipping string contents. */
function matchingBrace(body: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE) depth++;
    else if (byte === CLOSE_BRACE && --depth === 0) return i;
  }
  return -1;
}
