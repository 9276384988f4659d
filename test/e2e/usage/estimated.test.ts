// Streams that end without the upstream's usage report: an upstream that breaks off and a
// client that leaves. Each is still recorded once, as an estimated request: the prompt as tollgate
// counted it at admission plus the completion text that was streamed, and the request's log line says so.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { APIError } from 'openai';
import t, { type Test } from 'tap';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import { estimatePromptTokens } from '../../../src/openai/prompt-tokens.js';
import {
  adminApi,
  adminOnRedis,
  expectedCostUsd,
  flushUsage,
  sumRows,
  uniquePrefix,
} from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type Gateway, type LogEntry } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

// Long enough that the streamed part and the whole reply count very differently.
const TEXT =
  'The quick brown fox jumps over the lazy dog while the patient lighthouse keeper counts every passing ship ' +
  'in the harbour tonight.';
const mock = await startMockUpstream({ promptTokens: 500, text: TEXT });
const redis = await startRedis();
const PREFIX = uniquePrefix('estimated');
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});
t.beforeEach(() => mock.reset());

/** A Redis-backed gateway of its own per test, so its key's usage is only this scenario's. */
async function gateway(t: Test): Promise<Gateway> {
  const gw = await startGateway({
    primary: mock,
    captureLogs: true,
    configure: adminOnRedis(redis.url, PREFIX),
  });
  t.teardown(() => gw.close());
  return gw;
}

const completedLine = (gw: Gateway, keyId: string) =>
  gw.logs.waitFor((e) => e.msg === 'request completed' && e.keyId === keyId, 5_000);

/**
 * What tollgate may have counted for `text`: o200k_base exactly, or (when its 5 ms tokenizing budget ran
 * out, e.g. on a loaded box) OpenAI's 4-characters-per-token rule for the part it did not count.
 */
const acceptableCounts = (text: string) => [countTokens(text), Math.ceil(text.length / 4)];

/** The request's log line and its one usage row, after the writes landed: both say estimated, and agree. */
async function checkEstimated(
  t: Test,
  gw: Gateway,
  line: LogEntry,
  streamedText: string,
  promptEstimate: number,
): Promise<void> {
  const keyId = staticKeyId(hashKey(gw.key));
  t.match(
    line,
    { model: ALIAS, provider: 'primary', stream: true, completed: false },
    'the log line: an incomplete stream',
  );
  const usage = line.usage as {
    promptTokens: number;
    cachedTokens: number;
    completionTokens: number;
    reasoningTokens: number;
    totalTokens: number;
    estimated: boolean;
  };
  t.match(
    usage,
    { cachedTokens: 0, reasoningTokens: 0, estimated: true },
    'the log line says the usage is estimated',
  );
  t.ok(
    acceptableCounts(streamedText).includes(usage.completionTokens),
    `completion tokens (${usage.completionTokens}) counted from the streamed text, ` +
      `not the whole reply (${countTokens(TEXT)})`,
  );
  t.ok(
    usage.promptTokens >= promptEstimate / 2 && usage.promptTokens <= promptEstimate * 2,
    `prompt tokens (${usage.promptTokens}) as tollgate counted them (~${promptEstimate}), the upstream reported none`,
  );
  t.equal(usage.totalTokens, usage.promptTokens + usage.completionTokens, 'total = prompt + completion');
  const costUsd = Number(line.costUsd);
  t.ok(Math.abs(costUsd - expectedCostUsd(usage)) < 1e-12, 'the log line carries the cost of the estimate');
  t.equal(
    gw.logs.entries().filter((e) => e.msg === 'request completed' && e.keyId === keyId).length,
    1,
    'one log line for the request',
  );

  await flushUsage(gw);
  const totals = sumRows(await adminApi(gw.url).usage({ keyId }));
  const { promptTokens, cachedTokens, completionTokens, reasoningTokens } = usage;
  t.match(
    totals,
    { requests: 1, estimatedRequests: 1, promptTokens, cachedTokens, completionTokens, reasoningTokens },
    'recorded once, as estimated, with the usage of the log line',
  );
  t.ok(Math.abs(totals.costUsd - expectedCostUsd(usage)) < 1e-9, 'the estimate is priced like any usage');
}

t.test('a chat stream the upstream cuts short is recorded as estimated', async (t) => {
  const gw = await gateway(t);
  mock.behave({ kind: 'cut', afterChunks: 6 });
  const body = {
    model: ALIAS,
    messages: [{ role: 'user' as const, content: 'Tell me a story about a lighthouse keeper.' }],
    stream: true as const,
  };
  let text = '';
  const failure = await (async () => {
    for await (const chunk of await gw.client().chat.completions.create(body)) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
  })().then(() => undefined, (err: unknown) => err);
  t.type(failure, APIError, 'the client was told the stream broke off');
  t.equal(text, 'The quick brown fox jumps over', 'the client got the six words sent before the cut');
  const line = await completedLine(gw, staticKeyId(hashKey(gw.key)));
  await checkEstimated(t, gw, line, text, estimatePromptTokens(body, 'chat'));
});

t.test('a responses stream the upstream cuts short is recorded as estimated', async (t) => {
  const gw = await gateway(t);
  mock.behave({ kind: 'cut', afterChunks: 9 });
  const body = {
    model: ALIAS,
    input: 'Tell me a story about a lighthouse keeper.',
    instructions: 'Be brief.',
    stream: true as const,
  };
  let text = '';
  const failure = await (async () => {
    for await (const event of await gw.client().responses.create(body)) {
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
  })().then(() => undefined, (err: unknown) => err);
  t.ok(failure instanceof Error, 'the client was told the stream broke off');
  t.equal(text, 'The quick brown fox jumps over the lazy dog', 'the client got the nine words sent before the cut');
  const line = await completedLine(gw, staticKeyId(hashKey(gw.key)));
  await checkEstimated(t, gw, line, text, estimatePromptTokens(body, 'responses'));
});

t.test('a chat stream the client abandons is recorded as estimated', async (t) => {
  const gw = await gateway(t);
  // Far apart, so nothing more is streamed between the client leaving and the gateway noticing.
  mock.behave({ kind: 'slow', chunkDelayMs: 300 });
  const body = {
    model: ALIAS,
    messages: [{ role: 'user' as const, content: 'Count slowly.' }],
    stream: true as const,
    stream_options: { include_usage: true },
  };
  let text = '';
  let words = 0;
  for await (const chunk of await gw.client().chat.completions.create(body)) {
    const delta = chunk.choices[0]?.delta.content;
    if (delta) {
      text += delta;
      if (++words === 2) break; // leaving the loop aborts the SDK's request
    }
  }
  t.equal(text, 'The quick', 'the client read two words, then left');
  t.equal((await mock.waitForAbort(5_000)).aborted, true, 'the upstream request was aborted');
  const line = await completedLine(gw, staticKeyId(hashKey(gw.key)));
  await checkEstimated(t, gw, line, text, estimatePromptTokens(body, 'chat'));
});

t.test('a chat stream without include_usage that the client abandons is recorded as estimated', async (t) => {
  const gw = await gateway(t);
  mock.behave({ kind: 'slow', chunkDelayMs: 300 });
  const body = {
    model: ALIAS,
    messages: [{ role: 'user' as const, content: 'Count slowly, please.' }],
    stream: true as const,
  };
  let text = '';
  let words = 0;
  for await (const chunk of await gw.client().chat.completions.create(body)) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.choices[0]?.delta.content && ++words === 3) break;
  }
  t.equal(text, 'The quick brown', 'the client read three words, then left');
  t.equal((await mock.waitForAbort(5_000)).aborted, true, 'the upstream request was aborted');
  const line = await completedLine(gw, staticKeyId(hashKey(gw.key)));
  await checkEstimated(t, gw, line, text, estimatePromptTokens(body, 'chat'));
});

t.test('a responses stream the client abandons is recorded as estimated', async (t) => {
  const gw = await gateway(t);
  mock.behave({ kind: 'slow', chunkDelayMs: 300 });
  const body = { model: ALIAS, input: 'Count slowly, please.', stream: true as const };
  let text = '';
  for await (const event of await gw.client().responses.create(body)) {
    if (event.type !== 'response.output_text.delta') continue;
    text += event.delta;
    if (text.split(' ').length === 2) break;
  }
  t.equal(text, 'The quick', 'the client read two words, then left');
  t.equal((await mock.waitForAbort(5_000)).aborted, true, 'the upstream request was aborted');
  const line = await completedLine(gw, staticKeyId(hashKey(gw.key)));
  await checkEstimated(t, gw, line, text, estimatePromptTokens(body, 'responses'));
});
