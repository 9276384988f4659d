import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import t from 'tap';
import { countTextTokens, estimatePromptTokens, outputCap } from '../../../src/openai/prompt-tokens.js';

const count = (text: string) => countTokens(text, { disallowedSpecial: new Set() });
/**
 * The estimator tokenizes at most ~24k chars or ~5 ms, whichever ends first, then extrapolates; these
 * tests prove it stops early instead of counting everything (1M chars of rare CJK in full: over two
 * minutes here). They do not time it: a test clock decides when the time budget is spent, and counts how
 * often the counter looks at it, which it does once per slice of at most 256 chars past the first 512.
 * How long an estimate takes is measured by bench/ (its long-prompt round) and shown here as comments only.
 */
function testClock(msAtRead: (read: number) => number) {
  const clock = { reads: 0, now: () => msAtRead(clock.reads++) };
  return clock;
}
/** Slices of the 4M-char prompt if it were counted whole. */
const WHOLE_PROMPT_SLICES = 4_000_000 / 256;

const PROSE =
  'Rate limits are measured in requests per minute and tokens per minute. A burst of long prompts can trip them. ';
const CODE =
  'function admit(rules) {\n  for (const rule of rules) {\n    if (rule.cost > rule.limit) return false;\n  }\n' +
  '  return   true;\n}\n\n';
const DATA = '{"id": 1234567, "values": [3.14159, 2.71828, 1.41421], "label": "naïve café — ünïcödé 東京 👍🏽"}\n';
/** Mixed prose, code and JSON, cut to `chars`. */
function mixedText(chars: number): string {
  const block = PROSE.repeat(6) + CODE.repeat(3) + DATA.repeat(4);
  return block.repeat(Math.ceil(chars / block.length)).slice(0, chars);
}

t.test('short chat prompts are counted exactly, with tiktoken overhead', async (t) => {
  const body = {
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      {
        role: 'user',
        name: 'ada',
        content: [
          { type: 'text', text: 'Summarise this:' },
          { type: 'text', text: 'GCRA is a token bucket.' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"gcra"}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'found it' },
    ],
  };
  const text = [
    'system',
    'You are a terse assistant.',
    'user',
    'ada',
    'Summarise this:',
    'GCRA is a token bucket.',
    'assistant',
    'lookup',
    '{"q":"gcra"}',
    'tool',
    'found it',
  ];
  const expected = text.reduce((sum, s) => sum + count(s), 0) + 4 * 3 + 1 + 3;
  t.equal(estimatePromptTokens(body, 'chat'), expected, `3 per message, 1 per name, 3 reply priming (${expected})`);
});

t.test('Responses input: instructions, string or items, flat allowance for images', async (t) => {
  const simple = { instructions: 'Be brief.', input: 'Hello there' };
  t.equal(
    estimatePromptTokens(simple, 'responses'),
    count('system') + count('Be brief.') + count('user') + count('Hello there') + 3 + 3 + 3,
    'instructions and a string input are two messages',
  );
  const items = {
    input: [
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is in this image?' },
          { type: 'input_image', image_url: 'data:image/png;base64,AAAA' },
        ],
      },
      { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: 'a cat' },
    ],
  };
  const expected =
    count('user') +
    count('What is in this image?') +
    765 +
    count('lookup') +
    count('{}') +
    count('a cat') +
    3 * 3 +
    1 +
    3;
  t.equal(
    estimatePromptTokens(items, 'responses'),
    expected,
    'text parts counted, the image costs a flat 765, base64 is never tokenized',
  );
});

t.test('special-token text and odd bodies do not throw', async (t) => {
  t.equal(
    estimatePromptTokens({ messages: [{ role: 'user', content: 'x <|endoftext|> y' }] }, 'chat'),
    count('user') + count('x <|endoftext|> y') + 6,
    'special tokens count as text',
  );
  t.equal(estimatePromptTokens(null, 'chat'), 3, 'no body: only the reply priming');
  t.equal(estimatePromptTokens({ messages: 'nope', input: 42 }, 'responses'), 3, 'wrong shapes are ignored');
});

t.test('long texts are sliced without changing the count', async (t) => {
  const text = mixedText(20_000) + ' tail';
  const exact = count(text);
  // An unlimited time budget: on a loaded machine the default 5 ms could end exact counting early.
  t.equal(countTextTokens(text, Infinity), exact, 'slicing at spaces keeps o200k pieces intact');
});

t.test('a 1M-token prompt is estimated within budget', async (t) => {
  const text = mixedText(4_000_000);
  // A clock that stands still: the time budget never runs out, so only the char budget can stop counting.
  const clock = testClock(() => 0);
  const start = performance.now();
  const estimate = estimatePromptTokens({ messages: [{ role: 'user', content: text }] }, 'chat', clock.now);
  const ms = performance.now() - start;
  const truth = count(text);
  t.comment(`4M chars (${truth} tokens): estimated ${estimate} in ${ms.toFixed(2)} ms`);
  t.ok(
    clock.reads < WHOLE_PROMPT_SLICES / 10,
    `exact counting stops after a sample: ${clock.reads} slices looked at the clock, ` +
      `of ${WHOLE_PROMPT_SLICES} in the text`,
  );
  t.ok(
    Math.abs(estimate - truth) / truth < 0.25,
    `within 25% of the exact count (${(((estimate - truth) / truth) * 100).toFixed(1)}%)`,
  );
});

t.test('pathological texts cannot stall the event loop', async (t) => {
  const cjk = Array.from({ length: 1_000_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
  const unbroken = 'abcdefghij'.repeat(100_000);
  for (const [name, text] of [['1M chars of rare CJK', cjk], ['1M chars without a space', unbroken]] as const) {
    // The budget is spent by the first look at the clock after the always-exact 512 chars.
    const clock = testClock((read) => (read === 0 ? 0 : 5));
    const start = performance.now();
    const estimate = countTextTokens(text, 5, clock.now);
    t.comment(`${name}: estimated in ${(performance.now() - start).toFixed(2)} ms`);
    t.ok(
      clock.reads === 2 && estimate > 0,
      `${name}: ${estimate} tokens, counting stopped at the first look at a spent budget (${clock.reads} reads)`,
    );
  }
});

t.test('outputCap reserves the largest cap under any name, times n, within the model maximum', async (t) => {
  t.equal(
    outputCap({ max_completion_tokens: 100, max_tokens: 200 }, 4096),
    200,
    'max_tokens beside a smaller max_completion_tokens',
  );
  t.equal(outputCap({ max_tokens: 10, max_output_tokens: 5000 }, 4096), 5000, 'max_output_tokens on chat');
  t.equal(outputCap({ max_output_tokens: 10, max_tokens: 5000 }, 4096), 5000, 'max_tokens on Responses');
  t.equal(outputCap({ max_tokens: 1000, n: 5 }, 4096), 5000, 'n choices of 1000');
  t.equal(outputCap({ n: 3 }, 4096), 3 * 4096, 'n choices of the default');
  t.equal(outputCap({ max_tokens: 50_000, n: 2 }, 4096, 1000), 2000, "each choice within the model's maxOutputTokens");
  t.equal(outputCap({}, 4096, 1000), 1000, 'the default too');
  t.equal(outputCap({ max_tokens: null }, 4096), 4096, 'null means unset');
  t.equal(outputCap({ max_tokens: 'lots', n: 'many' }, 4096), 4096, 'garbage falls back to the default');
});

t.test('texts counted once are not tokenized again', async (t) => {
  const systemPrompt = mixedText(20_000);
  const exact = countTextTokens(systemPrompt, Infinity);
  t.equal(exact, count(systemPrompt), 'counted exactly with an unlimited time budget');
  // No time budget at all: an uncounted text would be extrapolated after 512 chars.
  t.equal(countTextTokens(systemPrompt, 0), exact, 'the second count comes from the cache, still exact');
  const fresh = mixedText(20_001);
  t.not(countTextTokens(fresh, 0), count(fresh), 'a text not seen before is extrapolated under the same budget');
});
