// Usage under fallback: the primary answers 500, the secondary answers; the request is counted once,
// with the usage the secondary reported, and its log line names the secondary as the provider.
import t, { type Test } from 'tap';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import {
  adminApi,
  adminOnRedis,
  expectedCostUsd,
  flushUsage,
  poll,
  sumRows,
  uniquePrefix,
} from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type Gateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

// Different prompt counts tell the two upstreams' usage apart.
const primary = await startMockUpstream({ promptTokens: 11 });
const secondary = await startMockUpstream({ promptTokens: 40, cachedTokens: 8 });
const redis = await startRedis();
const PREFIX = uniquePrefix('fallback');
t.teardown(async () => {
  await Promise.all([primary.close(), secondary.close()]);
  await redis.stop();
});
t.beforeEach(() => {
  primary.reset();
  secondary.reset();
});

const SECONDARY_USAGE = {
  promptTokens: 40,
  cachedTokens: 8,
  completionTokens: wordChunks(DEFAULT_TEXT).length,
  reasoningTokens: 0,
};

async function gateway(t: Test): Promise<Gateway> {
  const gw = await startGateway({
    primary,
    secondary,
    captureLogs: true,
    configure: adminOnRedis(redis.url, PREFIX),
  });
  t.teardown(() => gw.close());
  return gw;
}

/** The request's lines: exactly one completion line, for the secondary, after one failed attempt. */
async function checkOnce(t: Test, gw: Gateway, calls: number): Promise<void> {
  const keyId = staticKeyId(hashKey(gw.key));
  const completedLines = () => gw.logs.entries().filter((e) => e.msg === 'request completed');
  await poll(async () => (completedLines().length >= calls ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 50)); // a duplicate line would come right after
  await flushUsage(gw);
  const completed = completedLines();
  t.equal(completed.length, calls, 'one completion line per request');
  for (const line of completed) {
    t.match(
      line,
      {
        keyId,
        model: ALIAS,
        provider: 'secondary',
        status: 200,
        attempts: 2,
        usage: { ...SECONDARY_USAGE, estimated: false },
      },
      'the line names the route that answered, with its usage',
    );
  }
  const failed = gw.logs.entries().filter((e) => String(e.msg).startsWith('upstream attempt failed'));
  t.equal(failed.length, calls, 'each request logged the primary failing once');
  t.match(failed[0], { provider: 'primary', status: 500 }, 'the failed attempt was the primary');

  const totals = sumRows(await adminApi(gw.url).usage({ keyId }));
  t.match(
    totals,
    {
      requests: calls,
      estimatedRequests: 0,
      promptTokens: calls * 40,
      cachedTokens: calls * 8,
      completionTokens: calls * SECONDARY_USAGE.completionTokens,
    },
    'usage counted once per request, from the secondary',
  );
  t.ok(Math.abs(totals.costUsd - calls * expectedCostUsd(SECONDARY_USAGE)) < 1e-9, 'cost of the secondary answer only');
}

t.test('primary 500 → secondary answers: usage counted once, for the secondary', async (t) => {
  const gw = await gateway(t);
  primary.behave({ kind: 'error', status: 500 });
  const completion = await gw
    .client()
    .chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] });
  t.equal(completion.choices[0]?.message.content, DEFAULT_TEXT, 'the secondary answered');
  t.equal(completion.usage?.prompt_tokens, 40, 'with its usage');
  t.equal(primary.requests.length, 1, 'the primary was tried once');
  await checkOnce(t, gw, 1);
});

t.test('primary 500 → secondary streams: usage counted once per request, for the secondary', async (t) => {
  const gw = await gateway(t);
  primary.behave({ kind: 'error', status: 500 });
  let text = '';
  for await (const chunk of await gw
    .client()
    .chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }], stream: true })) {
    text += chunk.choices[0]?.delta.content ?? '';
  }
  t.equal(text, DEFAULT_TEXT, 'the chat stream came from the secondary');
  let deltas = '';
  for await (const event of await gw.client().responses.create({ model: ALIAS, input: 'hi', stream: true })) {
    if (event.type === 'response.output_text.delta') deltas += event.delta;
  }
  t.equal(deltas, DEFAULT_TEXT, 'the responses stream came from the secondary');
  t.equal(secondary.requests.length, 2, 'the secondary answered both');
  await checkOnce(t, gw, 2);
});
