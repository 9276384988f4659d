/**
 * Prompt tokens a request reserves at admission: the o200k_base count of its text plus tiktoken's chat
 * overhead (3 tokens per message, 1 per name, 3 to prime the reply) (docs/wire.md §9). The
 * reservation is settled against the real usage afterwards, so this must be cheap and close, not exact.
 *
 * The tokenizer runs on the event loop, so exact counting stops after EXACT_CHAR_BUDGET characters
 * or EXACT_TIME_BUDGET_MS, whichever comes first; the rest is extrapolated with the tokens-per-char
 * ratio of what was counted. The character budget keeps ordinary text (prose, code, JSON) to a few
 * milliseconds, and a prompt of millions of characters costs no more while its estimate stays close.
 * The time cap matters because the cost per char varies by two orders of magnitude between texts (rare
 * CJK scripts are among the slowest, at about 2 tokens per char) and a cold tokenizer (first requests
 * after start) is slower still. Texts counted in full are kept in a TokenCountCache: a conversation's
 * earlier turns and a repeated system prompt are not tokenized again, and stay exact however long the
 * prompt around them grows. (docs/contract.md §6.3)
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { TokenCountCache } from './token-count-cache.js';

const EXACT_CHAR_BUDGET = 24_000;
const EXACT_TIME_BUDGET_MS = 5;
/**
 * Always counted exactly, whatever the clock says, so short prompts (most requests) get the same count
 * on a busy machine as on an idle one; two slices cost at most a few ms even for pathological text.
 */
const ALWAYS_EXACT_CHARS = 512;
/** BPE cost grows faster than linearly with piece length (50k chars without a space: seconds); slices stay short. */
const SLICE_CHARS = 256;
/**
 * Below this many counted chars the measured ratio is noise: use OpenAI's rule of thumb instead. Kept
 * low because slow-to-count text (CJK: ~2 tokens per char, not 1/4) is exactly what exhausts the time budget.
 */
const MIN_SAMPLE_CHARS = 200;
const CHARS_PER_TOKEN = 4;
/**
 * Flat allowance for each image, audio or file part: 765 is a 1024×1024 high-detail image on gpt-4o.
 * Real costs vary (low detail 85, large PDFs far more); the settlement after the response corrects it.
 */
const NON_TEXT_PART_TOKENS = 765;
const NON_TEXT_TYPE = /image|audio|file/;
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;
/** Keys whose values carry prompt text, in chat messages and Responses input items alike. */
const TEXT_KEYS = [
  'role',
  'name',
  'content',
  'text',
  'refusal',
  'arguments',
  'output',
  'input',
  'summary',
  'tool_calls',
  'function',
  'function_call',
];
const MAX_DEPTH = 6;
/** User text that contains `<|endoftext|>` is text to the API, not an error. */
const ENCODE_OPTIONS = { disallowedSpecial: new Set<string>() };
/** ~8-16 MB of text: the system prompts, tool schemas and conversations of the busy keys. */
const recentCounts = new TokenCountCache(4_000_000);

type Json = Record<string, unknown>;
/** What the time budget is read from, in ms; tests pass a clock they set themselves. */
export type Clock = () => number;
const monotonic: Clock = () => performance.now();

export function estimatePromptTokens(body: unknown, endpoint: 'chat' | 'responses', now: Clock = monotonic): number {
  const request = isObject(body) ? body : {};
  const counter = new Counter(EXACT_TIME_BUDGET_MS, now);
  let tokens = REPLY_PRIMING_TOKENS;
  if (endpoint === 'chat') {
    for (const message of asArray(request.messages)) tokens += countItem(counter, message);
  } else {
    if (typeof request.instructions === 'string') {
      tokens += countItem(counter, { role: 'system', content: request.instructions });
    }
    if (typeof request.input === 'string') tokens += countItem(counter, { role: 'user', content: request.input });
    for (const item of asArray(request.input)) tokens += countItem(counter, item);
  }
  // Tool schemas are billed as prompt text in a private format; their JSON is a close stand-in.
  if (Array.isArray(request.tools) && request.tools.length > 0) counter.add(JSON.stringify(request.tools));
  return tokens + counter.total();
}

/** One text's o200k_base count under the same budget, e.g. completion text received before a stream broke. */
/** `timeBudgetMs`: how long exact counting may run before the rest is extrapolated. */
export function countTextTokens(text: string, timeBudgetMs = EXACT_TIME_BUDGET_MS, now: Clock = monotonic): number {
  const counter = new Counter(timeBudgetMs, now);
  counter.add(text);
  return counter.total();
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Output tokens reserved: the most the upstream may generate. That is the largest cap the request sets
 * under any name (upstreams honour max_tokens, max_completion_tokens and max_output_tokens, and which
 * one wins differs), else the configured default; no more than the model's own maximum when it is
 * configured; for each of the `n` choices asked for. (docs/contract.md §6.3; docs/wire.md §2.1)
 */
export function outputCap(body: unknown, defaultOutputTokens: number, modelMaxOutputTokens = Infinity): number {
  const request = isObject(body) ? body : {};
  const caps = [request.max_tokens, request.max_completion_tokens, request.max_output_tokens].filter(isCount);
  const perChoice = Math.min(caps.length > 0 ? Math.max(...caps) : defaultOutputTokens, modelMaxOutputTokens);
  return perChoice * (isCount(request.n) ? request.n : 1);
}

/** One chat message or Responses item: its text goes to the counter, its overhead is returned. */
function countItem(counter: Counter, item: unknown): number {
  if (!isObject(item)) return 0;
  const nameTokens = typeof item.name === 'string' ? TOKENS_PER_NAME : 0;
  return TOKENS_PER_MESSAGE + nameTokens + collect(counter, item, 0);
}

/** Feeds every text under `value` to the counter; returns the flat allowances for non-text parts. */
function collect(counter: Counter, value: unknown, depth: number): number {
  if (typeof value === 'string') {
    counter.add(value);
    return 0;
  }
  if (depth > MAX_DEPTH) return 0;
  let allowance = 0;
  if (Array.isArray(value)) {
    for (const element of value) allowance += collect(counter, element, depth + 1);
  } else if (isObject(value)) {
    if (typeof value.type === 'string' && NON_TEXT_TYPE.test(value.type)) return NON_TEXT_PART_TOKENS;
    for (const key of TEXT_KEYS) if (value[key] !== undefined) allowance += collect(counter, value[key], depth + 1);
  }
  return allowance;
}

class Counter {
  #exactTokens = 0;
  /** Chars whose count is exact (tokenized now or known from the cache): the sample for extrapolation. */
  #exactChars = 0;
  /** Chars tokenized by this counter: what the budgets limit. */
  #tokenizedChars = 0;
  #pendingChars = 0;
  readonly #now: Clock;
  readonly #deadline: number;

  constructor(timeBudgetMs: number, now: Clock) {
    this.#now = now;
    this.#deadline = now() + timeBudgetMs;
  }

  add(text: string): void {
    const known = recentCounts.get(text);
    if (known !== undefined) {
      this.#exactTokens += known;
      this.#exactChars += text.length;
      return;
    }
    const tokensBefore = this.#exactTokens;
    let start = 0;
    while (
      start < text.length &&
      this.#tokenizedChars < EXACT_CHAR_BUDGET &&
      (this.#tokenizedChars < ALWAYS_EXACT_CHARS || this.#now() < this.#deadline)
    ) {
      const end = sliceEnd(text, start);
      this.#exactTokens += countTokens(text.slice(start, end), ENCODE_OPTIONS);
      this.#tokenizedChars += end - start;
      start = end;
    }
    this.#exactChars += start;
    if (start === text.length) recentCounts.set(text, this.#exactTokens - tokensBefore);
    else this.#pendingChars += text.length - start;
  }

  total(): number {
    if (this.#pendingChars === 0) return this.#exactTokens;
    const perChar = this.#exactChars >= MIN_SAMPLE_CHARS ? this.#exactTokens / this.#exactChars : 1 / CHARS_PER_TOKEN;
    return this.#exactTokens + Math.ceil(this.#pendingChars * perChar);
  }
}

/**
 * Where the slice starting at `start` ends. Cutting just before a space that follows a non-space keeps
 * o200k's pre-tokenizer pieces intact (a word piece carries its leading space), so the sum over slices
 * equals the count of the whole; only a run of SLICE_CHARS without such a space is cut blindly.
 */
function sliceEnd(text: string, start: number): number {
  const limit = start + SLICE_CHARS;
  if (limit >= text.length) return text.length;
  for (let i = limit; i > start + SLICE_CHARS / 2; i--) {
    if (text.charCodeAt(i) === 32 && !/\s/.test(text.charAt(i - 1))) return i;
  }
  // Never split a surrogate pair: half an emoji would count as two replacement characters.
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
