/**
 * The demo upstream's Chat Completions answers: a `chat.completion`, or its stream of
 * `chat.completion.chunk`s with one word per chunk, the usage chunk when `stream_options.include_usage`
 * asks for it, and `[DONE]` (docs/wire.md §4.2–§4.4, §6.1).
 */
import { randomBytes } from 'node:crypto';
import type { ClientRequest } from '../dialects/dialect.js';
import type { Usage } from '../openai/usage.js';
import type { EchoAnswer } from './echo.js';
import { dataEvent, type StreamedAnswer } from './sse-frames.js';

/** Members every chunk of one answer shares, and its JSON form too. */
function commonMembers(request: ClientRequest) {
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model: request.body.model,
    system_fingerprint: null,
    service_tier: 'default',
  };
}

export function chatCompletion(request: ClientRequest, answer: EchoAnswer): object {
  const message = { role: 'assistant', content: answer.text, refusal: null, annotations: [] };
  return {
    ...commonMembers(request),
    object: 'chat.completion',
    choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }],
    usage: chatUsage(answer.usage),
  };
}

export function chatStream(request: ClientRequest, answer: EchoAnswer): StreamedAnswer {
  const common = { ...commonMembers(request), object: 'chat.completion.chunk' };
  const withUsage = request.body.stream_options?.include_usage === true;
  const chunk = (delta: object, finishReason: string | null) =>
    dataEvent({
      ...common,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      // With include_usage every chunk but the last says `usage: null` (docs/wire.md §4.3).
      ...(withUsage ? { usage: null } : {}),
    });
  const usageChunk = dataEvent({ ...common, choices: [], usage: chatUsage(answer.usage) });
  return {
    head: [chunk({ role: 'assistant', content: '', refusal: null }, null)],
    words: answer.words.map((word) => chunk({ content: word }, null)),
    tail: [chunk({}, 'stop'), ...(withUsage ? [usageChunk] : []), 'data: [DONE]\n\n'],
  };
}

/** docs/wire.md §3.1, with the details current answers send. */
function chatUsage(usage: Usage): object {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}
