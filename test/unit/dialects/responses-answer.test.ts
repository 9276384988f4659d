/** The bridge's JSON answers: a chat.completion in, the Response object the client gets out. */
import { test } from 'tap';
import { openaiDialect } from '../../../src/dialects/openai.js';
import { responsesOverChat } from '../../../src/dialects/responses-over-chat.js';
import { responsesRequest } from './bridge-request.js';
import { completion, toolCallMessage } from './chat-chunks.js';

const bridge = responsesOverChat(openaiDialect);

function answer(json: object, body: object = {}) {
  const request = responsesRequest({ model: 'alias', input: 'x', ...body });
  const result = bridge.clientAnswer(request, Buffer.from(JSON.stringify(json)), json);
  if (JSON.stringify(result.response) !== result.body.toString()) throw new Error('the body is not the response');
  return result;
}

test('a text answer: one completed message item, the request echoed, usage mapped', async (t) => {
  const { response, usage } = answer(completion({ content: 'Hello.' }), {
    instructions: 'Be brief.',
    max_output_tokens: 50,
    metadata: { a: 'b' },
    previous_response_id: 'resp_prev',
    temperature: 0.3,
  });
  t.match(response, {
    id: /^resp_[0-9a-f]{48}$/,
    object: 'response',
    created_at: 1761565462,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: 'Be brief.',
    max_output_tokens: 50,
    model: 'gpt-4o-mini-2024',
    metadata: { a: 'b' },
    parallel_tool_calls: true,
    previous_response_id: 'resp_prev',
    temperature: 0.3,
    top_p: 1,
    tools: [],
    tool_choice: 'auto',
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    store: true,
    reasoning: { effort: null, summary: null },
    usage: {
      input_tokens: 13,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 12,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 25,
    },
  });
  t.type(response?.completed_at, 'number');
  t.same(response?.output, [{
    id: (response?.output as { id: string }[])[0]!.id,
    type: 'message',
    status: 'completed',
    content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Hello.' }],
    role: 'assistant',
  }]);
  t.match((response?.output as { id: string }[])[0]!.id, /^msg_[0-9a-f]{48}$/);
  t.match(usage, { promptTokens: 13, cachedTokens: 4, completionTokens: 12, reasoningTokens: 2, totalTokens: 25 });
});

test('tool calls: a function_call item per call after the text', async (t) => {
  const tools = [{ type: 'function', name: 'weather' }];
  const { response } = answer(completion(toolCallMessage, 'tool_calls'), { tools });
  const output = response?.output as Record<string, unknown>[];
  t.same(output.map((item) => item.type), ['message', 'function_call', 'function_call']);
  t.match(output[1], { id: /^fc_[0-9a-f]{48}$/, status: 'completed', call_id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' });
  t.match(output[2], { call_id: 'call_b', name: 'time', arguments: '{}' });
  t.same(response?.tools, tools, 'tools echoed as sent');
});

test('length and content_filter are incomplete, with their reasons; refusals are refusal parts', async (t) => {
  const cut = answer(completion({ content: 'Hel' }, 'length')).response;
  t.match(cut, { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  t.equal((cut?.output as { status: string }[])[0]!.status, 'incomplete');
  const filtered = answer(completion({ content: null, refusal: 'I cannot.' }, 'content_filter')).response;
  t.match(filtered, { status: 'incomplete', incomplete_details: { reason: 'content_filter' } });
  t.same((filtered?.output as { content: unknown }[])[0]!.content, [{ type: 'refusal', refusal: 'I cannot.' }]);
});

test('an answer that is no chat.completion still gives a Response, without output or usage', async (t) => {
  const { response, usage } = answer({ unexpected: true });
  t.match(response, { object: 'response', status: 'completed', output: [], usage: null });
  t.equal(usage, undefined);
});
