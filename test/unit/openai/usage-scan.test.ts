import t from 'tap';
import { valueEnd } from '../../../src/openai/json-scan.js';
import { TopLevelUsageScan } from '../../../src/openai/usage-scan.js';

/**
 * The usage an answer reports, as the relay finds it: the bytes fed to the scan in pieces of
 * `pieceBytes`, so a member name or number split across two chunks is covered too.
 */
function usageFromBody(body: Buffer, pieceBytes = 7) {
  const scan = new TopLevelUsageScan();
  for (let i = 0; i < body.length; i += pieceBytes) scan.push(body.subarray(i, i + pieceBytes));
  return scan.usage();
}

const chat = {
  id: 'chatcmpl-1',
  choices: [{ message: { role: 'assistant', content: 'It said "usage": {"prompt_tokens": 999} and {braces}' } }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 5,
    total_tokens: 17,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: { reasoning_tokens: 2 },
  },
  system_fingerprint: 'fp',
};
const expected = {
  promptTokens: 12,
  cachedTokens: 4,
  completionTokens: 5,
  reasoningTokens: 2,
  totalTokens: 17,
  estimated: false,
};

t.test('chat and responses bodies, compact or indented', async (t) => {
  for (const pieceBytes of [1, 3, 64, 1 << 20]) {
    t.same(
      usageFromBody(Buffer.from(JSON.stringify(chat)), pieceBytes),
      expected,
      `fed in pieces of ${pieceBytes} bytes`,
    );
  }
  t.same(
    usageFromBody(Buffer.from(JSON.stringify(chat))),
    expected,
    'compact chat body; the quoted usage inside the content is not taken',
  );
  t.same(usageFromBody(Buffer.from(JSON.stringify(chat, null, 2))), expected, 'indented: a newline after the colon');
  const responses = {
    id: 'resp_1',
    output: [],
    usage: {
      input_tokens: 7,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 10,
    },
  };
  t.same(
    usageFromBody(Buffer.from(JSON.stringify(responses))),
    {
      promptTokens: 7,
      cachedTokens: 0,
      completionTokens: 3,
      reasoningTokens: 0,
      totalTokens: 10,
      estimated: false,
    },
    'responses body',
  );
});

t.test('no usage, null usage, or a body cut short: undefined, never a throw', async (t) => {
  t.equal(usageFromBody(Buffer.from('{"id":"x","choices":[]}')), undefined, 'no usage member');
  t.equal(usageFromBody(Buffer.from('{"id":"x","usage": null}')), undefined, 'usage null');
  const whole = JSON.stringify(chat);
  for (const cut of [
    whole.indexOf('"usage"') + 12,
    whole.indexOf('cached_tokens') + 3,
    whole.indexOf('reasoning_tokens') + 19,
  ]) {
    t.equal(usageFromBody(Buffer.from(whole.slice(0, cut))), undefined, `cut at byte ${cut}`);
  }
});

t.test('valueEnd reports a value the bytes end inside of', async (t) => {
  t.equal(valueEnd(Buffer.from('{"a":"b"}'), 0), 9, 'a whole object');
  t.equal(valueEnd(Buffer.from('{"a":"b\\"}'), 0), -1, 'an escaped quote leaves the string open');
  t.equal(valueEnd(Buffer.from('[1,[2'), 0), -1, 'an open array');
  t.equal(valueEnd(Buffer.from('"日本"'), 0), Buffer.byteLength('"日本"'), 'byte offsets past multi-byte characters');
});

t.test("a metadata.usage the client sent and the answer echoes is not the answer's usage", async (t) => {
  const real = { input_tokens: 12, output_tokens: 2_000, total_tokens: 2_012 };
  const forged = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
  const answer = { id: 'resp_1', usage: real, metadata: { usage: forged }, tools: [{ usage: forged }] };
  t.match(
    usageFromBody(Buffer.from(JSON.stringify(answer))),
    { promptTokens: 12, completionTokens: 2_000, totalTokens: 2_012 },
    'the top-level member, though a nested one comes last',
  );
  t.equal(
    usageFromBody(Buffer.from(JSON.stringify({ id: 'x', metadata: { usage: forged } }))),
    undefined,
    'only a nested one: none',
  );
});

t.test('reported counts are checked: absurd ones clamped, impossible ones are no usage', async (t) => {
  const body = (usage: object) => Buffer.from(JSON.stringify({ id: 'x', usage }));
  t.match(
    usageFromBody(body({ prompt_tokens: 1e21, completion_tokens: 5, total_tokens: 1e21 })),
    { promptTokens: 2 ** 31, completionTokens: 5, totalTokens: 2 ** 31 + 5 },
    '1e21 is clamped to 2^31',
  );
  t.match(
    usageFromBody(Buffer.from('{"usage":{"prompt_tokens":1e400,"completion_tokens":1}}')),
    { promptTokens: 2 ** 31 },
    '1e400 (Infinity) too',
  );
  for (const bad of [-1, 1.5, '12', null, true]) {
    t.equal(
      usageFromBody(body({ prompt_tokens: bad, completion_tokens: 5, total_tokens: 17 })),
      undefined,
      `prompt_tokens ${JSON.stringify(bad)}: no usage (it is estimated)`,
    );
    t.equal(
      usageFromBody(body({ input_tokens: 3, output_tokens: bad })),
      undefined,
      `output_tokens ${JSON.stringify(bad)}: no usage`,
    );
  }
  t.same(
    usageFromBody(
      body({
        prompt_tokens: 10,
        completion_tokens: 4,
        total_tokens: 1,
        prompt_tokens_details: { cached_tokens: 99 },
        completion_tokens_details: { reasoning_tokens: -3 },
      }),
    ),
    {
      promptTokens: 10,
      cachedTokens: 10,
      completionTokens: 4,
      reasoningTokens: 0,
      totalTokens: 14,
      estimated: false,
    },
    'details never exceed their count, a bad one is 0, the total never falls below its parts',
  );
});
