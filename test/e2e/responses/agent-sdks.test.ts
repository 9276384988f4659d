// The agent frameworks people point at a gateway, speaking Responses to a chat-only provider: the
// Vercel AI SDK's Responses model runs a tool loop (generateText and streamText), LangChain's ChatOpenAI
// with useResponsesApi invokes, streams and calls tools. The provider side is a chat mock that asks for
// the tool until it sees the tool's result, then answers in text.
import t from 'tap';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { ALIAS, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, type Behaviour, type RecordedRequest } from '../../helpers/mock-upstream.js';

const CALL_ID = 'call_weather_1';
const ARGUMENTS = '{"city":"Paris"}';
const TOOL_RESULT = { celsius: 21 };

const toolCall = { id: CALL_ID, type: 'function', function: { name: 'weather', arguments: ARGUMENTS } };
const usage = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 };
const base = { id: 'chatcmpl-tool', object: 'chat.completion', created: 1_760_000_000, model: 'gpt-4.1-nano' };

/** The model's first move: call the tool. Streamed, the arguments arrive in two pieces. */
function callTheTool(stream: boolean): Behaviour {
  if (!stream) {
    const message = { role: 'assistant', content: null, tool_calls: [toolCall] };
    const text = JSON.stringify({ ...base, choices: [{ index: 0, message, finish_reason: 'tool_calls' }], usage });
    return { kind: 'raw', status: 200, text };
  }
  const event = (data: object) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...data })}\n\n`;
  const chunk = (delta: object, finish: string | null = null) =>
    event({ choices: [{ index: 0, delta, finish_reason: finish }] });
  const named = { index: 0, id: CALL_ID, type: 'function', function: { name: 'weather', arguments: '' } };
  const text = [
    chunk({ role: 'assistant', content: null, tool_calls: [named] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    chunk({}, 'tool_calls'),
    event({ choices: [], usage }),
    'data: [DONE]\n\n',
  ].join('');
  return { kind: 'raw', status: 200, text, contentType: 'text/event-stream' };
}

const sawToolResult = (request: RecordedRequest) =>
  (request.body.messages as Array<{ role: string }> | undefined)?.some((message) => message.role === 'tool');

const chatOnly = await startMockUpstream();
const gw = await startGateway({
  primary: chatOnly,
  configure: (raw) => {
    raw.providers.primary!.endpoints = ['chat'];
  },
});
t.teardown(async () => {
  await gw.close();
  await chatOnly.close();
});
t.beforeEach(() => {
  chatOnly.reset();
  chatOnly.behave((request) =>
    request.body.tools && !sawToolResult(request) ? callTheTool(request.body.stream === true) : { kind: 'ok' },
  );
});

/** The tool result the second chat request carried back to the model. */
function toolMessage(): unknown {
  const messages = chatOnly.requests[1]?.body.messages as Array<{ role: string }> | undefined;
  return messages?.find((message) => message.role === 'tool');
}

const provider = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.key });
const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  }),
  execute: async () => TOOL_RESULT,
});

for (const mode of ['generateText', 'streamText'] as const) {
  t.test(`Vercel AI SDK ${mode}: a tool loop over the Responses model, bridged to chat`, async (t) => {
    const options = {
      model: provider.responses(ALIAS),
      tools: { weather },
      stopWhen: stepCountIs(3),
      prompt: 'What is the weather in Paris?',
    };
    const { text, steps } =
      mode === 'generateText'
        ? await generateText(options)
        : await (async () => {
          const result = streamText(options);
          return { text: await result.text, steps: await result.steps };
        })();
    t.equal(text, DEFAULT_TEXT, 'the final answer');
    t.equal(steps.length, 2, 'a tool step, then the answer');
    t.match(steps[0]?.toolCalls, [{ toolName: 'weather', input: { city: 'Paris' } }]);
    t.equal(chatOnly.requests.length, 2, 'two chat requests upstream');
    t.match(chatOnly.requests[0]?.body.tools, [{ type: 'function', function: { name: 'weather' } }]);
    t.match(toolMessage(), { role: 'tool', tool_call_id: CALL_ID });
    t.same(JSON.parse((toolMessage() as { content: string }).content), TOOL_RESULT, 'the result went back');
  });
}

t.test('LangChain ChatOpenAI with useResponsesApi: invoke, stream, tool calls', async (t) => {
  const model = new ChatOpenAI({
    model: ALIAS,
    apiKey: gw.key,
    useResponsesApi: true,
    maxRetries: 0,
    configuration: { baseURL: `${gw.url}/v1` },
  });
  const answer = await model.invoke('Say hello.');
  t.equal(answer.text, DEFAULT_TEXT, 'invoke');
  t.match(answer.usage_metadata, { input_tokens: 12, output_tokens: 5 }, 'usage reaches LangChain');

  let streamed = '';
  for await (const chunk of await model.stream('Say hello.')) streamed += chunk.text;
  t.equal(streamed, DEFAULT_TEXT, 'stream');

  const withTools = model.bindTools([
    {
      type: 'function',
      function: {
        name: 'weather',
        description: 'The weather in a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ]);
  const call = await withTools.invoke('What is the weather in Paris?');
  t.match(call.tool_calls, [{ name: 'weather', args: { city: 'Paris' }, id: CALL_ID }], 'tool call');
});
