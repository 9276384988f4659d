/**
 * The bridge's request mapping, without a server: Responses bodies in, the chat body the provider's
 * chat dialect writes out (OpenAI's, and the form-schema reseller's), or the route's refusal naming
 * the member chat cannot carry.
 */
import { test } from 'tap';
import type { Dialect } from '../../../src/dialects/dialect.js';
import { formSchemaDialect } from '../../../src/dialects/form-schema.js';
import { openaiDialect } from '../../../src/dialects/openai.js';
import { responsesOverChat } from '../../../src/dialects/responses-over-chat.js';
import type { GatewayError } from '../../../src/errors.js';
import type { ResponseItem } from '../../../src/responses/stored-response.js';
import { responsesRequest } from './bridge-request.js';

const bridge = responsesOverChat(openaiDialect);

function upstream(body: object, dialect: Dialect = bridge, history?: ResponseItem[]) {
  return dialect.upstreamBody(responsesRequest({ model: 'alias', ...body }, history), 'provider-model');
}

function chat(body: object, dialect?: Dialect, history?: ResponseItem[]): Record<string, unknown> {
  const answer = upstream(body, dialect, history);
  if (answer.refusal) throw answer.refusal;
  return JSON.parse(answer.body.toString());
}

function refusal(body: object, dialect?: Dialect): GatewayError {
  const answer = upstream(body, dialect);
  if (!answer.refusal) throw new Error(`not refused: ${answer.body.toString()}`);
  return answer.refusal;
}

const user = (text: string) => ({ role: 'user', content: text });

test('a string input is one user message; instructions come first as a system message', async (t) => {
  t.same(chat({ input: 'Hi', instructions: 'Be brief.' }), {
    model: 'provider-model',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
  });
});

test('message items keep their role; text, output text and refusal parts are text; images image_url', async (t) => {
  const input = [
    { type: 'message', role: 'developer', content: 'Use English.' },
    { role: 'system', content: [{ type: 'input_text', text: 'Sys' }] },
    {
      role: 'user',
      content: [
        { type: 'input_text', text: 'Look' },
        { type: 'input_image', image_url: 'https://example.test/cat.png', detail: 'high' },
        { type: 'input_image', image_url: 'data:image/png;base64,AAAA' },
      ],
    },
    {
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'A cat.' }, { type: 'refusal', refusal: 'No more.' }],
    },
  ];
  t.same(chat({ input }).messages, [
    { role: 'developer', content: 'Use English.' },
    { role: 'system', content: [{ type: 'text', text: 'Sys' }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Look' },
        { type: 'image_url', image_url: { url: 'https://example.test/cat.png', detail: 'high' } },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      ],
    },
    { role: 'assistant', content: [{ type: 'text', text: 'A cat.' }, { type: 'text', text: 'No more.' }] },
  ]);
});

test('function calls join the assistant message before them; outputs are tool messages; no reasoning', async (t) => {
  const call = (id: string) => ({ type: 'function_call', call_id: id, name: 'weather', arguments: `{"city":"${id}"}` });
  const toolCall = (id: string) =>
    ({ id, type: 'function', function: { name: 'weather', arguments: `{"city":"${id}"}` } });
  const input = [
    user('Weather in A, B and C?'),
    { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'opaque' },
    { type: 'message', role: 'assistant', content: 'Checking.' },
    call('A'),
    call('B'),
    { type: 'function_call_output', call_id: 'A', output: 'sunny' },
    {
      type: 'function_call_output',
      call_id: 'B',
      output: [{ type: 'input_text', text: 'rain' }, { type: 'input_text', text: 'wind' }],
    },
    call('C'),
  ];
  t.same(chat({ input }).messages, [
    { role: 'user', content: 'Weather in A, B and C?' },
    { role: 'assistant', content: 'Checking.', tool_calls: [toolCall('A'), toolCall('B')] },
    { role: 'tool', tool_call_id: 'A', content: 'sunny' },
    { role: 'tool', tool_call_id: 'B', content: 'rain\nwind' },
    { role: 'assistant', content: null, tool_calls: [toolCall('C')] },
  ]);
});

test('history goes before the input, mapped like input; instructions still first', async (t) => {
  const history = [
    { id: 'x', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Earlier' }] },
    { id: 'y', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Answer' }] },
  ];
  const body = chat({ input: 'Now', instructions: 'Sys', previous_response_id: 'resp_abc' }, bridge, history);
  t.same(body.messages, [
    { role: 'system', content: 'Sys' },
    { role: 'user', content: [{ type: 'text', text: 'Earlier' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Answer' }] },
    { role: 'user', content: 'Now' },
  ]);
  t.notOk('previous_response_id' in body, 'never sent to a chat provider');
});

test('tools, tool_choice, text format and verbosity, the output cap and sampling members map to chat', async (t) => {
  const parameters = { type: 'object', properties: { city: { type: 'string' } } };
  const schema = { type: 'object', properties: { a: { type: 'number' } } };
  const body = chat({
    input: 'x',
    tools: [
      { type: 'function', name: 'weather', description: 'Weather', parameters, strict: true },
      { type: 'function', name: 'time' },
    ],
    tool_choice: { type: 'function', name: 'weather' },
    parallel_tool_calls: false,
    text: { format: { type: 'json_schema', name: 'answer', schema, strict: true }, verbosity: 'low' },
    max_output_tokens: 300,
    temperature: 0.5,
    top_p: 0.9,
    user: 'u1',
    safety_identifier: 's1',
    prompt_cache_key: 'k1',
    service_tier: 'flex',
    reasoning: { effort: 'low', summary: 'auto' },
    metadata: { a: 'b' },
    store: false,
    stream: true,
    include: ['reasoning.encrypted_content'],
    truncation: 'disabled',
    background: false,
    top_logprobs: 0,
  });
  t.same(body, {
    model: 'provider-model',
    messages: [{ role: 'user', content: 'x' }],
    tools: [
      { type: 'function', function: { name: 'weather', description: 'Weather', parameters, strict: true } },
      { type: 'function', function: { name: 'time' } },
    ],
    parallel_tool_calls: false,
    tool_choice: { type: 'function', function: { name: 'weather' } },
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    verbosity: 'low',
    max_completion_tokens: 300,
    temperature: 0.5,
    top_p: 0.9,
    user: 'u1',
    safety_identifier: 's1',
    prompt_cache_key: 'k1',
    service_tier: 'flex',
    reasoning_effort: 'low',
    stream: true,
    stream_options: { include_usage: true },
  }, 'the OpenAI chat dialect also asks the stream for its usage chunk');
});

test('plain text and json_object formats; string tool choices; parallel_tool_calls only with tools', async (t) => {
  t.same(chat({ input: 'x', text: { format: { type: 'text' } } }), { model: 'provider-model', messages: [user('x')] });
  t.same(chat({ input: 'x', text: { format: { type: 'json_object' } } }).response_format, { type: 'json_object' });
  for (const choice of ['auto', 'none', 'required']) {
    t.equal(chat({ input: 'x', tool_choice: choice }).tool_choice, choice);
  }
  t.notOk('parallel_tool_calls' in chat({ input: 'x', parallel_tool_calls: true }), 'chat refuses it without tools');
});

test('what chat cannot do refuses the route with a 400 naming the member', async (t) => {
  const cases: [object, string][] = [
    [{ background: true }, 'background'],
    [{ conversation: 'conv_1' }, 'conversation'],
    [{ prompt: { id: 'pmpt_1' } }, 'prompt'],
    [{ max_tool_calls: 3 }, 'max_tool_calls'],
    [{ truncation: 'auto' }, 'truncation'],
    [{ top_logprobs: 2 }, 'top_logprobs'],
    [{ include: ['message.output_text.logprobs'] }, 'include'],
    [{ include: ['message.input_image.image_url'] }, 'include'],
    [{ tools: [{ type: 'web_search' }] }, 'tools'],
    [{ tools: [{ type: 'file_search', vector_store_ids: ['vs'] }] }, 'tools'],
    [{ tools: [{ type: 'mcp', server_label: 'x' }] }, 'tools'],
    [{ tools: [{ type: 'custom', name: 'x' }] }, 'tools'],
    [{ tool_choice: { type: 'web_search_preview' } }, 'tool_choice'],
    [{ tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [] } }, 'tool_choice'],
    [{ text: { format: { type: 'grammar' } } }, 'text'],
    [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input'],
    [{ input: [{ type: 'web_search_call', id: 'ws_1' }] }, 'input'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] }, 'input'],
    [{ input: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }, 'input'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }, 'input'],
    [{ input: [{ role: 'assistant', content: [{ type: 'input_image', image_url: 'https://x.test/a.png' }] }] }, 'input'],
    [{ input: [{ role: 'tool', content: 'x' }] }, 'input'],
    [{ input: [{ type: 'function_call_output', call_id: 'a', output: [{ type: 'input_image' }] }] }, 'input'],
  ];
  for (const [body, param] of cases) {
    const error = refusal({ input: 'x', ...body });
    t.match(
      { status: error.status, param: error.param, code: error.code, message: error.message },
      { status: 400, param, code: 'unsupported_parameter', message: /serves Chat Completions only/ },
      JSON.stringify(body),
    );
  }
});

test('through the form-schema dialect: a bridged request reaches the form; tools are refused there', async (t) => {
  const form = responsesOverChat(formSchemaDialect);
  const body = { input: 'Hi', instructions: 'Be brief.', max_output_tokens: 20, stream: true, metadata: { a: 'b' } };
  t.same(chat(body, form), {
    model: 'provider-model',
    prompt: 'Hi',
    system_prompt: 'Be brief.',
    stream: true,
    max_completion_tokens: 20,
  });
  const input = [user('Hi'), { role: 'assistant', content: [{ type: 'output_text', text: 'Hello' }] }, user('More')];
  t.equal(chat({ input }, form).prompt, 'User: Hi\n\nAssistant: Hello\n\nUser: More');
  const error = refusal({ input: 'x', tools: [{ type: 'function', name: 'f' }] }, form);
  t.match(
    { status: error.status, param: error.param, code: error.code },
    { status: 400, param: 'tools', code: 'unsupported_parameter' },
  );
});
