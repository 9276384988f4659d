// GET /metrics after real traffic: Prometheus text with route/model/status/tier labels, token and
// cost counters, stream timings, upstream errors and rate-limit rejections — and no secret anywhere.
import { AuthenticationError, RateLimitError } from 'openai';
import t from 'tap';
import { ALIAS, PRIMARY_API_KEY, SECONDARY_API_KEY, randomKey, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';

const WORDS = wordChunks(DEFAULT_TEXT).length;
const messages = [{ role: 'user' as const, content: 'Say hello.' }];
const METRICS_TOKEN = 'metrics-token-for-tests';

const primary = await startMockUpstream();
const secondary = await startMockUpstream();
const limitedKey = randomKey('limited');
const gw = await startGateway({
  primary,
  secondary,
  configure: (raw) => {
    raw.metrics = { token: METRICS_TOKEN };
    raw.tiers['one-rpm'] = { rpm: 1 };
    raw.keys.push({ name: 'limited', key: limitedKey, tier: 'one-rpm' });
  },
});
t.teardown(async () => {
  await gw.close();
  await Promise.all([primary.close(), secondary.close()]);
});

async function scrape(token = METRICS_TOKEN): Promise<{ status: number; text: string }> {
  const response = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, text: await response.text() };
}

/** The value of one sample line, matched by metric name and a label subset. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

t.test('metrics reflect the traffic, with labels and without secrets', async (t) => {
  const client = gw.client();
  await client.chat.completions.create({ model: ALIAS, messages });
  for await (const _chunk of await client.chat.completions.create({ model: ALIAS, messages, stream: true })) {
    // drain the stream
  }
  primary.behave({ kind: 'error', status: 500 });
  await client.chat.completions.create({ model: ALIAS, messages }); // falls back to the secondary
  primary.reset();
  const refused = await gw.client('sk-tg-not-a-real-key-000000').models.list().catch((err: unknown) => err);
  t.type(refused, AuthenticationError, 'a bad key is refused');
  const limited = gw.client(limitedKey);
  await limited.chat.completions.create({ model: ALIAS, messages });
  const limitedError = await limited.chat.completions.create({ model: ALIAS, messages }).catch((err: unknown) => err);
  t.type(limitedError, RateLimitError, 'the second request of a 1-rpm key is limited');

  const { status, text } = await scrape();
  t.equal(status, 200, 'metrics are served with the token');
  t.equal(
    sample(text, 'tollgate_requests_total', {
      route: '/v1/chat/completions',
      model: ALIAS,
      status: '200',
      tier: 'tier-5',
    }),
    3,
    'three answered chat requests for tier-5',
  );
  t.equal(
    sample(text, 'tollgate_requests_total', { route: '/v1/chat/completions', status: '429', tier: 'one-rpm' }),
    1,
    'the 429 is counted with its tier',
  );
  t.equal(
    sample(text, 'tollgate_rate_limit_rejections_total', { dimension: 'rpm' }),
    1,
    'the rejection is counted by dimension',
  );
  t.equal(
    sample(text, 'tollgate_upstream_errors_total', { provider: 'primary', cause: '500' }),
    1,
    'the failed primary attempt is counted',
  );
  t.equal(
    sample(text, 'tollgate_tokens_total', { model: ALIAS, kind: 'prompt' }),
    4 * DEFAULT_PROMPT_TOKENS,
    'prompt tokens of the four answered requests',
  );
  t.equal(
    sample(text, 'tollgate_tokens_total', { model: ALIAS, kind: 'completion' }),
    4 * WORDS,
    'completion tokens of the four answered requests',
  );
  t.ok((sample(text, 'tollgate_cost_usd_total', { model: ALIAS }) ?? 0) > 0, 'cost is accumulated');
  t.equal(
    sample(text, 'tollgate_stream_first_byte_seconds_count', { provider: 'primary', model: ALIAS }),
    1,
    'one stream timed to its first byte',
  );
  t.equal(
    sample(text, 'tollgate_upstream_duration_seconds_count', { provider: 'secondary', model: ALIAS }),
    1,
    'upstream latency by the provider that answered',
  );
  t.match(text, /^tollgate_active_streams 0$/m, 'no stream is active any more');
  t.match(text, /^tollgate_gateway_overhead_seconds_count\{route="chat"\} \d+$/m, 'gateway overhead is observed');
  for (const secret of [gw.key, limitedKey, PRIMARY_API_KEY, SECONDARY_API_KEY, METRICS_TOKEN]) {
    t.notOk(text.includes(secret), 'no key or token appears in the metrics');
  }
});

t.test('the metrics token is required when configured', async (t) => {
  const { status, text } = await scrape('wrong-token');
  t.equal(status, 401, 'a wrong token is refused');
  t.match(JSON.parse(text), { error: { code: 'invalid_api_key' } }, 'OpenAI-shaped error');
});
