/**
 * What the demo upstream answers: the client's last user message echoed back in a friendly sentence,
 * with usage counted by the gateway's own tokenizer (src/openai/prompt-tokens.ts), so the numbers a
 * newcomer sees in /v1/me, the usage API and the dashboard are honest o200k_base counts.
 */
import type { ClientRequest } from '../dialects/dialect.js';
import { isJsonObject } from '../openai/json-object.js';
import { countTextTokens, estimatePromptTokens } from '../openai/prompt-tokens.js';
import type { Usage } from '../openai/usage.js';

/** The provider model id the demo upstream serves (config/demo.yaml routes its aliases to it). */
export const DEMO_MODEL = 'demo-echo';
/** An echo of a whole pasted document would stream for minutes: long messages are cut here. */
const MAX_ECHO_WORDS = 40;
const MAX_ECHO_CHARS = 300;
const ABOUT =
  "I am tollgate's demo upstream, running inside the gateway: I echo your last message word by word, " +
  'and need no provider key and no network.';

export interface EchoAnswer {
  text: string;
  /** The text in stream order: each word with the whitespace before it, so `words.join('') === text`. */
  words: string[];
  usage: Usage;
}

export function answerTo(request: ClientRequest): EchoAnswer {
  const heard = lastUserText(request);
  const text = heard === '' ? `You sent no text I could read. ${ABOUT}` : `You said: "${shorten(heard)}". ${ABOUT}`;
  const promptTokens = estimatePromptTokens(request.body, request.endpoint);
  // No time budget: the reply is short, and its count should be exact on the busiest machine too.
  const completionTokens = countTextTokens(text, Infinity);
  return {
    text,
    words: text.match(/\s*\S+/g) ?? [],
    usage: {
      promptTokens,
      cachedTokens: 0,
      completionTokens,
      reasoningTokens: 0,
      totalTokens: promptTokens + completionTokens,
      estimated: false,
    },
  };
}

/** Chat: the last `user` message. Responses: a string `input`, or its last `user` item. */
function lastUserText({ endpoint, body }: ClientRequest): string {
  if (endpoint === 'responses' && typeof body.input === 'string') return body.input.trim();
  const turns = endpoint === 'chat' ? body.messages : body.input;
  const last = (Array.isArray(turns) ? turns : []).findLast((turn) => isJsonObject(turn) && turn.role === 'user');
  return isJsonObject(last) ? textOf(last.content).trim() : '';
}

/** A string content, or the text parts of a content array (`text` on chat, `input_text` on Responses). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.flatMap((part) => (isJsonObject(part) && typeof part.text === 'string' ? [part.text] : [])).join(' ');
}

function shorten(text: string): string {
  const words = text.split(/\s+/);
  if (words.length <= MAX_ECHO_WORDS && text.length <= MAX_ECHO_CHARS) return text;
  return `${words.slice(0, MAX_ECHO_WORDS).join(' ').slice(0, MAX_ECHO_CHARS)}…`;
}
