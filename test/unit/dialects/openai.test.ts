// The OpenAI dialect on Responses: a resolved chain goes before the input; native answers give their Response.
import { test } from 'tap';
import { openaiDialect } from '../../../src/dialects/openai.js';
import { responsesRequest } from './bridge-request.js';

test('history: input is the chain, then the own input (a string as a user message); no previous id', async (t) => {
  const history = [{ id: 'm', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Earlier' }] }];
  const body = { model: 'alias', input: 'Now', previous_response_id: 'resp_x', store: true };
  const request = responsesRequest(body, history);
  const sent = JSON.parse(openaiDialect.upstreamBody(request, 'gpt-4.1').body!.toString());
  t.same(sent, {
    model: 'gpt-4.1',
    input: [...history, { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Now' }] }],
    previous_response_id: null,
    store: true,
  });
  const plain = responsesRequest({ model: 'alias', input: 'Now', previous_response_id: 'resp_x' });
  t.same(JSON.parse(openaiDialect.upstreamBody(plain, 'm').body!.toString()).previous_response_id, 'resp_x');
});

test('a native Responses answer is its own response; anything else is none', async (t) => {
  const request = responsesRequest({ model: 'alias', input: 'x' });
  const json = { id: 'resp_1', object: 'response', output: [], usage: { input_tokens: 1, output_tokens: 2 } };
  const answer = openaiDialect.clientAnswer(request, Buffer.from(JSON.stringify(json)), json);
  t.same(answer.response, json);
  t.equal(answer.usage?.totalTokens, 3);
  t.equal(openaiDialect.clientAnswer(request, Buffer.from('{}'), { id: 'x' }).response, undefined);
});
