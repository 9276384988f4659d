import t from 'tap';
import { estimatePromptTokens } from '../../../src/openai/prompt-tokens.js';
import { countInputTokens } from '../../../src/responses/input-tokens.js';
import type { ResponseItem } from '../../../src/responses/stored-response.js';

const history: ResponseItem[] = [
  {
    id: 'msg_1',
    type: 'message',
    role: 'user',
    content: [{ type: 'input_text', text: 'What is the capital of France?' }],
  },
  { id: 'msg_2', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Paris.' }] },
];

t.test('without history: the admission estimate of the body', async (t) => {
  const body = { model: 'gpt-4.1-nano', input: 'And of Italy?', instructions: 'Be brief.' };
  t.equal(countInputTokens(body), estimatePromptTokens(body, 'responses'), 'the same count');
});

t.test('history is counted before the own input, a string input as a user message', async (t) => {
  const asString = { model: 'gpt-4.1-nano', input: 'And of Italy?' };
  const asItems = { model: 'gpt-4.1-nano', input: [...history, { role: 'user', content: 'And of Italy?' }] };
  t.equal(countInputTokens(asString, history), estimatePromptTokens(asItems, 'responses'), 'as if sent as items');
  t.ok(countInputTokens(asString, history) > countInputTokens(asString), 'the history adds tokens');
});
