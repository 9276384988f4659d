// Usage totals end to end: a mix of chat and responses calls, streamed and not, chat
// streams with and without include_usage, through a real gateway; GET /admin/usage then adds up to
// exactly what the upstream reported, and the cost is gpt-4.1-nano's list price to the nano-dollar.
import t, { type Test } from 'tap';
import type OpenAI from 'openai';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import {
  ADMIN_TOKEN,
  adminApi,
  expectedCostUsd,
  flushUsage,
  sumRows,
  sumUsage,
  uniquePrefix,
  utcDay,
  type TokenCounts,
  type UsageRowJson,
} from '../../helpers/admin-http.js';
import { ALIAS, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';
import { zeroUsageCounters } from '../../helpers/usage-counters.js';

const PROMPT = 30;
const CACHED = 10;
const REASONING = 3;
const FULL_CHUNKS = wordChunks(DEFAULT_TEXT).length;

const mock = await startMockUpstream({ promptTokens: PROMPT, cachedTokens: CACHED, reasoningTokens: REASONING });
const redis = await startRedis();
const PREFIX = uniquePrefix('totals');
const CONCURRENT_PREFIX = uniquePrefix('totals-concurrent');
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});

const messages = [{ role: 'user' as const, content: 'Say hello.' }];

/** The mock's deterministic usage for a reply of `visibleChunks` words. */
const mockUsage = (visibleChunks: number): TokenCounts => ({
  promptTokens: PROMPT,
  cachedTokens: CACHED,
  completionTokens: visibleChunks + REASONING,
  reasoningTokens: REASONING,
});

type ChatUsage = OpenAI.Completions.CompletionUsage | null | undefined;
type ResponsesUsage = OpenAI.Responses.ResponseUsage | null | undefined;

const fromChat = (u: ChatUsage): TokenCounts => ({
  promptTokens: u?.prompt_tokens ?? NaN,
  cachedTokens: u?.prompt_tokens_details?.cached_tokens ?? NaN,
  completionTokens: u?.completion_tokens ?? NaN,
  reasoningTokens: u?.completion_tokens_details?.reasoning_tokens ?? NaN,
});
const fromResponses = (u: ResponsesUsage): TokenCounts => ({
  promptTokens: u?.input_tokens ?? NaN,
  cachedTokens: u?.input_tokens_details?.cached_tokens ?? NaN,
  completionTokens: u?.output_tokens ?? NaN,
  reasoningTokens: u?.output_tokens_details?.reasoning_tokens ?? NaN,
});

/**
 * Eight calls; returns the usage the upstream reported for each (as the client saw it where the
 * client sees usage, else the mock's deterministic count for the words received).
 */
async function runMix(t: Test, client: OpenAI): Promise<TokenCounts[]> {
  const reported: TokenCounts[] = [];
  const note = (label: string, seen: TokenCounts, visibleChunks: number) => {
    t.same(seen, mockUsage(visibleChunks), `${label}: the usage the upstream reported reached the client untouched`);
    reported.push(seen);
  };

  const chat = await client.chat.completions.create({ model: ALIAS, messages });
  note('chat', fromChat(chat.usage), FULL_CHUNKS);

  const capped = await client.chat.completions.create({ model: ALIAS, messages, max_completion_tokens: 2 });
  t.equal(capped.choices[0]?.finish_reason, 'length', 'capped chat: the cap bit');
  note('capped chat', fromChat(capped.usage), 2);

  let words = 0;
  let usageChunks = 0;
  for await (const chunk of await client.chat.completions.create({ model: ALIAS, messages, stream: true })) {
    if (chunk.choices[0]?.delta.content) words++;
    if (chunk.usage) usageChunks++;
  }
  t.equal(words, FULL_CHUNKS, 'chat stream without include_usage: every word arrived');
  t.equal(usageChunks, 0, 'chat stream without include_usage: the usage chunk tollgate asked for was removed');
  reported.push(mockUsage(words)); // what the upstream reported to tollgate alone

  for (const maxTokens of [undefined, 3]) {
    let streamed: ChatUsage;
    let received = 0;
    const stream = await client.chat.completions.create({
      model: ALIAS,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(maxTokens && { max_tokens: maxTokens }),
    });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (chunk.usage) streamed = chunk.usage;
    }
    note(`chat stream with include_usage (max_tokens ${maxTokens ?? 'none'})`, fromChat(streamed), received);
  }

  const response = await client.responses.create({ model: ALIAS, input: 'Say hello.' });
  note('responses', fromResponses(response.usage), FULL_CHUNKS);

  for (const maxOutputTokens of [undefined, 1]) {
    let completed: ResponsesUsage;
    let deltas = 0;
    const stream = await client.responses.create({
      model: ALIAS,
      input: 'Say hello.',
      stream: true,
      ...(maxOutputTokens && { max_output_tokens: maxOutputTokens }),
    });
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') deltas++;
      if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = event.response.usage;
    }
    note(`responses stream (max_output_tokens ${maxOutputTokens ?? 'none'})`, fromResponses(completed), deltas);
  }
  return reported;
}

function checkTotals(
  t: Test,
  label: string,
  row: Omit<UsageRowJson, 'day' | 'keyId' | 'model'>,
  reported: TokenCounts[],
): void {
  const expected = sumUsage(reported);
  t.match(row, { ...expected, estimatedRequests: 0 }, `${label}: requests and token counts equal the upstream's`);
  const cost = reported.reduce((sum, u) => sum + expectedCostUsd(u), 0);
  t.ok(
    Math.abs(row.costUsd - cost) < 1e-9,
    `${label}: cost ${row.costUsd} is gpt-4.1-nano's price ${cost} (to 1e-9)`,
  );
}

async function scenario(t: Test, store: 'memory' | 'redis'): Promise<void> {
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
      if (store === 'redis') raw.redis = { url: redis.url, keyPrefix: PREFIX };
    },
  });
  t.teardown(() => gw.close());
  const admin = adminApi(gw.url);
  const keyId = staticKeyId(hashKey(gw.key));

  const reported = await runMix(t, gw.client());
  t.equal(reported.length, 8, 'eight calls made');
  await flushUsage(gw);

  const byModel = await admin.usage({ groupBy: 'model' });
  t.equal(byModel.length, 1, 'groupBy=model: one row');
  t.equal(byModel[0]?.model, ALIAS, 'groupBy=model: under the alias the client asked for');
  checkTotals(t, 'groupBy=model', byModel[0]!, reported);

  const byDayKey = await admin.usage({ groupBy: 'day,key' });
  t.ok(
    byDayKey.length >= 1 && byDayKey.every((row) => row.keyId === keyId),
    'groupBy=day,key: rows of the one key that was used',
  );
  t.ok(byDayKey.every((row) => row.day === utcDay() || row.day === utcDay(-1)), 'groupBy=day,key: dated today (UTC)');
  t.notOk(byDayKey.some((row) => 'model' in row), 'groupBy=day,key: no model column');
  checkTotals(t, 'groupBy=day,key', sumRows(byDayKey), reported);

  const [totals] = await admin.usage({ keyId, model: ALIAS });
  checkTotals(t, 'no grouping, filtered by key and model', totals!, reported);
  t.same(
    await admin.usage({ keyId: 'key_000000000000' }),
    [
      zeroUsageCounters(),
    ],
    'another key: zeros',
  );
}

t.test('memory stores: usage totals equal the upstream usage across chat/responses × stream/non-stream', (t) =>
  scenario(t, 'memory'),
);

t.test('redis stores: usage totals equal the upstream usage across chat/responses × stream/non-stream', (t) =>
  scenario(t, 'redis'),
);

t.test('redis, two instances, concurrent calls: the shared totals are exact', async (t) => {
  const gateways = await Promise.all(
    [0, 1].map(() =>
      startGateway({
        primary: mock,
        configure: (raw) => {
          raw.admin = { token: ADMIN_TOKEN };
          raw.redis = { url: redis.url, keyPrefix: CONCURRENT_PREFIX }; // apart from the other scenario's usage
        },
      }),
    ),
  );
  t.teardown(() => Promise.all(gateways.map((gw) => gw.close())));
  const [a, b] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
  const { id, key } = await adminApi(a.url).createKey({ name: 'busy', tier: 'tier-5' });
  const caps = Array.from({ length: 40 }, (_, i) => 1 + (i % FULL_CHUNKS)); // 1..5 words each
  const reported = await Promise.all(
    caps.map(async (cap, i) => {
      const client = (i % 2 === 0 ? a : b).client(key);
      if (i % 4 < 2) {
        return fromChat(
          (await client.chat.completions.create({ model: ALIAS, messages, max_completion_tokens: cap })).usage,
        );
      }
      return fromResponses(
        (await client.responses.create({ model: ALIAS, input: 'Say hello.', max_output_tokens: cap })).usage,
      );
    }),
  );
  t.same(reported, caps.map(mockUsage), 'every call reported its deterministic usage');
  await flushUsage(a, b);
  for (const gw of [a, b]) {
    const [row] = await adminApi(gw.url).usage({ keyId: id, groupBy: 'model' });
    checkTotals(t, `read via ${gw === a ? 'A' : 'B'}`, row!, reported);
  }
});
