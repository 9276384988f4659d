import t from 'tap';
import { valueEnd } from '../../src/json-scan.js';
import { usageFromBody } from '../../src/usage/usage.js';

const chat = {
  id: 'chatcmpl-1',
  choices: [{ message: { role: 'assistant', content: 'It said "usage": {"prompt_tokens": 999} and {braces}' } }],
  usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
  system_fingerprint: 'fp',
};
const expected = { promptTokens: 12, cachedTokens: 4, completionTokens: 5, reasoningTokens: 2, totalTokens: 17, estimated: false };

t.test('chat and responses bodies, compact or indented', async (t) => {
  t.same(usageFromBody(Buffer.from(JSON.stringify(chat))), expected, 'compact chat body; the quoted usage inside the content is not taken');
  t.same(usageFromBody(Buffer.from(JSON.stringify(chat, null, 2))), expected, 'indented: a newline after the colon');
  const responses = { id: 'resp_1', output: [], usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10 } };
  t.same(usageFromBody(Buffer.from(JSON.stringify(responses))), { promptTokens: 7, cachedTokens: 0, completionTokens: 3, reasoningTokens: 0, totalTokens: 10, estimated: false }, 'responses body');
});

t.test('no usage, null usage, or a body cut short: undefined, never a throw', async (t) => {
  t.equal(usageFromBody(Buffer.from('{"id":"x","choices":[]}')), undefined, 'no usage member');
  t.equal(usageFromBody(Buffer.from('{"id":"x","usage": null}')), undefined, 'usage null');
  const whole = JSON.stringify(chat);
  for (const cut of [whole.indexOf('"usage"') + 12, whole.indexOf('cached_tokens') + 3, whole.indexOf('reasoning_tokens') + 19]) {
    t.equal(usageFromBody(Buffer.from(whole.slice(0, cut))), undefined, `cut at byte ${cut}`);
  }
});

t.test('valueEnd reports a value the bytes end inside of', async (t) => {
  t.equal(valueEnd(Buffer.from('{"a":"b"}'), 0), 9, 'a whole object');
  t.equal(valueEnd(Buffer.from('{"a":"b\\"}'), 0), -1, 'an escaped quote leaves the string open');
  t.equal(valueEnd(Buffer.from('[1,[2'), 0), -1, 'an open array');
  t.equal(valueEnd(Buffer.from('"日本"'), 0), Buffer.byteLength('"日本"'), 'byte offsets past multi-byte characters');
});
