// Fuzzing the proxy with 3,000 hostile bodies over real HTTP: mutations of valid chat and Responses
// bodies (deep nesting, huge numbers, wrong types, duplicate and case-variant members, truncation,
// invalid UTF-8, empty bodies, nulls, large strings). Whatever a client sends, the gateway answers a
// 2xx or a 4xx, never a 5xx. Each body is built from its own seed, so a failure names the seeds that
// rebuild it with bodyFor(seed) below.
import t from 'tap';
import { request } from 'undici';
import { ALIAS, gatewayFixture } from '../../helpers/gateway.js';

const BODIES = 3_000;
const CONCURRENCY = 8;
const FIRST_SEED = 12_000;

/** mulberry32: a tiny seeded PRNG, plenty for choosing mutations. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Random = ReturnType<typeof mulberry32>;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

/** A body as member name → raw JSON text of its value, so duplicates and any value text are possible. */
type Members = Array<[string, string]>;

const json = JSON.stringify;
const CHAT: Members = [
  ['model', json(ALIAS)],
  [
    'messages',
    json([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]),
  ],
  ['max_tokens', '5'],
  ['temperature', '1'],
  [
    'tools',
    json([
      {
        type: 'function',
        function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } },
      },
    ]),
  ],
  ['metadata', json({ team: 'red' })],
];
const RESPONSES: Members = [
  ['model', json(ALIAS)],
  ['input', json([{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }])],
  ['instructions', json('Be brief.')],
  ['max_output_tokens', '5'],
  ['metadata', json({ team: 'red' })],
];
const NAMES = [
  'model',
  'messages',
  'input',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'n',
  'tools',
  'metadata',
  'user',
  'instructions',
];
const NUMBERS = [
  '1e21',
  '1e400',
  '-1e400',
  '-1',
  '0',
  '1.5',
  '9007199254740993',
  '1e-400',
  '-0',
  '123456789012345678901234567890',
  '2147483648',
];
const WRONG_TYPES = [
  'null',
  'true',
  'false',
  '"x"',
  '""',
  '[]',
  '{}',
  '[null]',
  '{"include_usage":"yes"}',
  '[{"role":1}]',
  '{"a":{}}',
];
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]];
const WHOLE = ['', ' ', 'null', '[]', '"{}"', '123', '{', '}', '{"model":', '[{"model":"x"}]', '\ufeff{}'];

function nested(random: Random, depth: number): string {
  return random() < 0.5
    ? '['.repeat(depth) + '1' + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '"x"' + '}'.repeat(depth);
}

function largeString(random: Random): string {
  const unit = pick(random, ['a', 'é', '日本', '\\"', '\\u0000', '\\ud800', '🦊', ' word']);
  return `"${unit.repeat(1 + Math.floor(random() * 50_000))}"`;
}

/** One mutation of the member list. */
function mutate(random: Random, members: Members): void {
  const at = Math.floor(random() * members.length);
  const name = random() < 0.7 && members.length > 0 ? members[at]![0] : pick(random, NAMES);
  const set = (value: string) =>
    members.some(([n]) => n === name)
      ? (members.find(([n]) => n === name)![1] = value)
      : members.push([name, value]);
  switch (Math.floor(random() * 9)) {
    case 0:
      return void set(nested(random, pick(random, [10, 126, 127, 128, 129, 1_000, 5_000, 20_000])));
    case 1:
      return void set(pick(random, NUMBERS));
    case 2:
      return void set(pick(random, WRONG_TYPES));
    case 3:
      return void members.push([name, pick(random, [...NUMBERS, ...WRONG_TYPES, json('gpt-4.1')])]);
    case 4:
      return void members.push([
        pick(random, [name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1), name.replace('s', '\u017f')]),
        '50000',
      ]);
    case 5:
      return void set(largeString(random));
    case 6:
      return void members.splice(at, 1);
    case 7:
      return void set('null');
    default: {
      const contents = [largeString(random), nested(random, 200), '1e400', 'null', '[{"type":"image_url"}]'];
      return void set(`[{"role":"user","content":${pick(random, contents)}}]`);
    }
  }
}

/** Mutations of the serialized bytes. */
function mutateBytes(random: Random, bytes: Buffer): Buffer {
  const at = Math.floor(random() * (bytes.length + 1));
  switch (Math.floor(random() * 3)) {
    case 0: return bytes.subarray(0, at); // truncated
    case 1: return Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(random, INVALID_UTF8)), bytes.subarray(at)]);
    default: {
      const copy = Buffer.from(bytes);
      if (at < copy.length) copy[at] = pick(random, [...'{}[]",:\\'].map((c) => c.charCodeAt(0)));
      return copy;
    }
  }
}

function bodyFor(seed: number): { path: string; body: Buffer } {
  const random = mulberry32(seed);
  const chat = random() < 0.5;
  const path = chat ? '/v1/chat/completions' : '/v1/responses';
  if (random() < 0.05) return { path, body: Buffer.from(pick(random, WHOLE)) };
  const members: Members = (chat ? CHAT : RESPONSES).map(([name, value]) => [name, value]);
  if (random() < 0.4) members.push(['stream', 'true']);
  if (chat && random() < 0.2) members.push(['stream_options', '{"include_usage":true}']);
  const mutations = 1 + Math.floor(random() * 3);
  for (let i = 0; i < mutations; i++) mutate(random, members);
  const bytes = Buffer.from(`{${members.map(([name, value]) => `${json(name)}:${value}`).join(',')}}`);
  return { path, body: random() < 0.25 ? mutateBytes(random, bytes) : bytes };
}

const { gw } = await gatewayFixture(t, { configure: (raw) => (raw.limits = { perIpPerMinute: 1_000_000 }) });

t.test(`${BODIES} fuzzed bodies get no 5xx`, async (t) => {
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < BODIES) {
      const seed = FIRST_SEED + next++;
      const { path, body } = bodyFor(seed);
      const res = await request(`${gw.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) {
        failures.push(`seed ${seed} (${path}, ${body.length} bytes): ${res.statusCode} ${text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.comment(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(', ')}`);
  t.same(failures, [], `no 5xx among ${BODIES} bodies`);
});
