// previous_response_id survives fallback, on Redis, across two gateway instances: a native response is
// chained at the provider that holds it; when that provider fails, the next route (chat-only, so
// bridged) gets the conversation rebuilt from the records; a bridged id is always rebuilt, also for a
// native route. Usage of the whole conversation adds up exactly.
import t from 'tap';
import { hashKey, staticKeyId } from '../../../src/keys/api-key.js';
import { ADMIN_TOKEN, adminApi, flushUsage, uniquePrefix } from '../../helpers/admin-http.js';
import { ALIAS, randomKey, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, startMockUpstream, wordChunks } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

const native = await startMockUpstream();
const chatOnly = await startMockUpstream();
const redis = await startRedis();
const prefix = uniquePrefix('chain');
/** One key on both instances, as a static key in a shared config is. */
const key = randomKey('shared');
const gateways = await Promise.all(
  [0, 1].map(() =>
    startGateway({
      primary: native,
      secondary: chatOnly,
      configure: (raw) => {
        raw.providers.secondary!.endpoints = ['chat'];
        raw.admin = { token: ADMIN_TOKEN };
        raw.redis = { url: redis.url, keyPrefix: prefix };
        raw.keys.push({ name: 'shared', key, tier: 'tier-5' });
      },
    }),
  ),
);
t.teardown(async () => {
  await Promise.all(gateways.map((gw) => gw.close()));
  await native.close();
  await chatOnly.close();
  await redis.stop();
});
const [a, b] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];

const userText = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
const roles = (messages: unknown) => (messages as Array<{ role: string }>).map((message) => message.role);

t.test('a chained conversation moves from the holder to a bridged route and back, every turn answered', async (t) => {
  const first = await a.client(key).responses.create({ model: ALIAS, input: 'One.' });
  t.equal(native.requests.length, 1, 'turn 1: the native provider answered');

  // Turn 2 on the other instance, the instant turn 1 ended: the record is in Redis already.
  const second = await b.client(key).responses.create({ model: ALIAS, input: 'Two.', previous_response_id: first.id });
  t.equal(native.requests[1]?.body.previous_response_id, first.id, 'turn 2: the holder is sent the id');
  t.same(native.requests[1]?.body.input, 'Two.', 'turn 2: and only the new input');

  // Turn 3: the holder fails; the chat-only route gets the whole conversation instead of the id.
  native.behave({ kind: 'error', status: 500 });
  const turn3 = { model: ALIAS, input: 'Three.', previous_response_id: second.id };
  const third = await a.client(key).responses.create(turn3);
  t.equal(third.status, 'completed', 'turn 3: answered by the fallback');
  t.equal(third.previous_response_id, second.id, 'turn 3: the chain is echoed');
  t.equal(native.requests[2]?.body.previous_response_id, second.id, 'turn 3: the holder was tried first');
  const rebuilt = chatOnly.requests[0]?.body.messages;
  t.same(roles(rebuilt), ['user', 'assistant', 'user', 'assistant', 'user'], 'turn 3: two turns and the new one');
  const said = { content: [{ type: 'text', text: DEFAULT_TEXT }] };
  t.match(rebuilt, [{}, said, {}, said, {}], 'turn 3: with what was answered');

  // Turn 4: the holder is back, but turn 3 is bridged: its id means nothing upstream, so it is rebuilt.
  native.behave({ kind: 'ok' });
  const fourth = await b.client(key).responses.create({ model: ALIAS, input: 'Four.', previous_response_id: third.id });
  t.equal(fourth.status, 'completed');
  const sent = native.requests[3]?.body;
  t.equal(sent?.previous_response_id, null, 'turn 4: no id is sent upstream');
  t.equal((sent?.input as unknown[]).length, 7, 'turn 4: three turns of two items, and the new input');
  t.same((sent?.input as unknown[])[0], userText('One.'), 'turn 4: beginning with the first');
  t.same((sent?.input as unknown[])[6], userText('Four.'), 'turn 4: ending with the new input');

  await flushUsage(a, b);
  const keyId = staticKeyId(hashKey(key));
  const [row] = await adminApi(a.url).usage({ keyId, model: ALIAS });
  const words = wordChunks(DEFAULT_TEXT).length;
  t.match(row, {
    requests: 4,
    promptTokens: 4 * DEFAULT_PROMPT_TOKENS,
    completionTokens: 4 * words,
    estimatedRequests: 0,
  }, 'four answered turns, counted once each; the failed attempt not at all');
});
