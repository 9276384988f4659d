/** Chat completion answers and chunk streams as a Chat Completions provider sends them, for the bridge's tests. */
export const chatUsage = {
  prompt_tokens: 13,
  completion_tokens: 12,
  total_tokens: 25,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 2 },
};

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1761565462, model: 'gpt-4o-mini-2024' };

export function chunk(delta: object, finishReason: string | null = null): string {
  const choices = [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
  return `data: ${JSON.stringify({ ...base, choices, usage: null })}\n\n`;
}

export const usageChunk = `data: ${JSON.stringify({ ...base, choices: [], usage: chatUsage })}\n\n`;
export const DONE = 'data: [DONE]\n\n';

/** A text answer, streamed word by word, with its usage chunk. */
export function textStream(words: string[], finishReason = 'stop'): string[] {
  return [
    chunk({ role: 'assistant', content: '', refusal: null }),
    ...words.map((word) => chunk({ content: word })),
    chunk({}, finishReason),
    usageChunk,
    DONE,
  ];
}

/** The same answer as one chat.completion. */
export function completion(message: object, finishReason = 'stop'): object {
  return {
    ...base,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finishReason }],
    usage: chatUsage,
  };
}

/** Two tool calls, their arguments in pieces, after a short text. */
export function toolCallStream(): string[] {
  const call = (index: number, extra: object) => chunk({ tool_calls: [{ index, ...extra }] });
  return [
    chunk({ role: 'assistant', content: null }),
    chunk({ content: 'Checking.' }),
    call(0, { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } }),
    call(0, { function: { arguments: '{"city":' } }),
    call(0, { function: { arguments: '"Paris"}' } }),
    call(1, { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } }),
    chunk({}, 'tool_calls'),
    usageChunk,
    DONE,
  ];
}

export const toolCallMessage = {
  content: 'Checking.',
  tool_calls: [
    { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } },
  ],
};
