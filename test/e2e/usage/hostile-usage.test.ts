// Usage the upstream reports is read and stored defensively: an answer with absurd counts costs no other
// request its record, and a client cannot choose its own usage through members the answer echoes.
import t from 'tap';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import { adminApi, adminOnRedis, flushUsage, sumRows, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, randomKey, startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

const WORDS = 2_000;
const mock = await startMockUpstream({ text: Array.from({ length: WORDS }, (_, i) => `w${i}`).join(' ') });
const redis = await startRedis();
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});
t.beforeEach(() => mock.reset());

const BYSTANDERS = ['alice', 'bob', 'carol'];
const keys = Object.fromEntries([...BYSTANDERS, 'absurd'].map((name) => [name, randomKey(name)]));
const gw = await startGateway({
  primary: mock,
  configure: (raw) => {
    adminOnRedis(redis.url, uniquePrefix('hostile-usage'))(raw);
    for (const [name, key] of Object.entries(keys)) raw.keys.push({ name, key, tier: 'tier-5' });
  },
});
t.teardown(() => gw.close());
const keyId = (name: string) => staticKeyId(hashKey(keys[name]!));
const recorded = async (name: string) => sumRows(await adminApi(gw.url).usage({ keyId: keyId(name) }));

t.test('a 1e21 prompt_tokens answer costs no bystander record', async (t) => {
  const absurdAnswer = {
    id: 'chatcmpl-absurd',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4.1-nano',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1e21, completion_tokens: 1, total_tokens: 1e21 },
  };
  // Every answer waits until all 91 requests arrived; then the absurd one goes first, so its usage opens
  // the write batch the 90 others join.
  let allArrived = () => {};
  const arrived = new Promise<void>((resolve) => (allArrived = resolve));
  let count = 0;
  mock.behave(async (req) => {
    if (++count === 91) allArrived();
    await arrived;
    if (req.body?.user === 'absurd') return { kind: 'error', status: 200, body: absurdAnswer };
    await new Promise((resolve) => setImmediate(resolve));
    return { kind: 'ok' };
  });
  const call = (name: string) =>
    gw
      .client(keys[name])
      .chat.completions.create({
        model: ALIAS,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 3,
        user: name,
      });
  await Promise.all([call('absurd'), ...Array.from({ length: 90 }, (_, i) => call(BYSTANDERS[i % 3]!))]);
  await flushUsage(gw);
  for (const name of BYSTANDERS) {
    t.match(await recorded(name), { requests: 30, completionTokens: 90 }, `${name}: all 30 records kept`);
  }
  t.match(
    await recorded('absurd'),
    { requests: 1, promptTokens: 2 ** 31, completionTokens: 1 },
    'the absurd answer is recorded, clamped to 2^31',
  );
});

t.test("a Responses answer echoing the client's metadata.usage is billed its real usage", async (t) => {
  const forged = JSON.stringify({ input_tokens: 0, output_tokens: 0, total_tokens: 0 });
  const before = await recorded('alice');
  const answer = await gw
    .client(keys.alice)
    .responses.create({ model: ALIAS, input: 'Count.', metadata: { usage: forged } });
  t.equal(answer.metadata?.usage, forged, 'the upstream echoed the metadata after its usage');
  t.equal(answer.usage?.output_tokens, WORDS, 'and generated 2,000 tokens');
  await flushUsage(gw);
  const after = await recorded('alice');
  t.equal(after.completionTokens - before.completionTokens, WORDS, 'all 2,000 recorded');
  t.equal(after.estimatedRequests - before.estimatedRequests, 0, 'as reported, not estimated');
});
