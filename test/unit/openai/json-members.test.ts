import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { topLevelMembers } from '../../../src/openai/json-scan.js';
import { setJsonMembers as setMembersInBytes } from '../../../src/openai/json-members.js';

const setJsonMembers = (text: string, members: Record<string, string>) =>
  setMembersInBytes(Buffer.from(text), members).toString('utf8');

const MODEL = { model: '"gpt-4.1-nano-2025-04-14"' };

t.test('replaces a top-level member and leaves every other byte as sent', async (t) => {
  const text =
    '{\n  "messages": [{"role": "user", "content": "say \\"model\\": 1 \\u00e9 日本"}],\n' +
    '  "model" : "nano",\n  "temperature": 1.50, "n": 1e0\n}';
  t.equal(
    setJsonMembers(text, MODEL),
    '{\n  "messages": [{"role": "user", "content": "say \\"model\\": 1 \\u00e9 日本"}],\n' +
      '  "model" : "gpt-4.1-nano-2025-04-14",\n  "temperature": 1.50, "n": 1e0\n}',
    'numbers, escapes, spacing and order are untouched',
  );
  t.equal(setJsonMembers('{"model":"a"}', MODEL), '{"model":"gpt-4.1-nano-2025-04-14"}', 'the only member');
  t.equal(
    setJsonMembers('{"a":{"model":"inner"},"model":"x","b":["model"]}', MODEL),
    '{"a":{"model":"inner"},"model":"gpt-4.1-nano-2025-04-14","b":["model"]}',
    'nested members and strings named model stay',
  );
});

t.test('every kind of value before the member is skipped correctly', async (t) => {
  const text = '{"s":"a\\\\","o":{"x":[1,{"y":"}"}]},"a":[[],{}],"n":-0.5e-3,"t":true,"f":false,"z":null,"model":"m"}';
  const rewritten = setJsonMembers(text, MODEL);
  t.same(
    JSON.parse(rewritten),
    { ...JSON.parse(text), model: 'gpt-4.1-nano-2025-04-14' },
    'a string ending in a backslash, braces inside strings, literals',
  );
  t.equal(
    rewritten.slice(0, text.indexOf('"model"')),
    text.slice(0, text.indexOf('"model"')),
    'the bytes before it are the same',
  );
});

t.test('a member named with escapes, and duplicates, are replaced like a parser reads them', async (t) => {
  t.same(
    JSON.parse(setJsonMembers('{"mod\\u0065l":"a","x":1}', MODEL)),
    { model: 'gpt-4.1-nano-2025-04-14', x: 1 },
    'escaped name',
  );
  const duplicated = setJsonMembers('{"model":"first","x":1,"model":"second"}', MODEL);
  t.equal(
    duplicated,
    '{"model":"gpt-4.1-nano-2025-04-14","x":1,"model":"gpt-4.1-nano-2025-04-14"}',
    'both copies, whichever one the upstream keeps',
  );
});

t.test('a member that is missing is added first', async (t) => {
  const members = { ...MODEL, stream_options: '{"include_usage":true}' };
  t.equal(
    setJsonMembers('{"model":"a","stream":true}', members),
    '{"stream_options":{"include_usage":true},"model":"gpt-4.1-nano-2025-04-14","stream":true}',
  );
  t.equal(
    setJsonMembers('{"model":"a","stream_options":{"include_usage":false,"x":[1]},"stream":true}', members),
    '{"model":"gpt-4.1-nano-2025-04-14","stream_options":{"include_usage":true},"stream":true}',
    'present: replaced in place',
  );
  t.equal(
    setJsonMembers(' { } ', MODEL),
    ' {"model":"gpt-4.1-nano-2025-04-14" } ',
    'an empty object gets no stray comma',
  );
});

t.test('random objects: the result parses to the object with the members set', async (t) => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const names = ['model', 'messages', 'mo"del', 'x\\', 'stream_options', 'é', 'model '];
  const strings = ['', 'model', '"model":', '\\', '\\"', '}', ']', '{', 'é日本', '\u2028', 'a\nb'];
  const value = (depth: number): unknown => {
    const kind = Math.floor(random() * (depth > 2 ? 4 : 6));
    if (kind === 0) return strings[Math.floor(random() * strings.length)];
    if (kind === 1) return Math.round(random() * 1e6) / 100 - 5000;
    if (kind === 2) return [true, false, null][Math.floor(random() * 3)];
    if (kind === 3) return Math.floor(random() * 10);
    if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(random() * 4) }, () => [
        names[Math.floor(random() * names.length)],
        value(depth + 1),
      ]),
    );
  };
  const spacing = [undefined, 2, '\t'];
  const mismatches: string[] = [];
  for (let run = 0; run < 500; run++) {
    const object = value(5) as Record<string, unknown>;
    const source = Object.fromEntries(
      Array.from({ length: Math.floor(random() * 5) }, () => [
        names[Math.floor(random() * names.length)],
        value(0),
      ]),
    );
    const text = JSON.stringify(source, null, spacing[run % 3]);
    const members = { model: JSON.stringify('routed'), stream_options: JSON.stringify(object) };
    const expected = { ...JSON.parse(text), model: 'routed', stream_options: object };
    if (!isDeepStrictEqual(JSON.parse(setJsonMembers(text, members)), expected)) mismatches.push(text);
  }
  t.same(mismatches, [], '500 random objects, compact and indented: every result parses to the expected object');
});

t.test('topLevelMembers: one pass finds the members and checks the nesting the body parser allows', async (t) => {
  const nested = (levels: number) => `{"model":"a","tools":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
  t.same(
    topLevelMembers(Buffer.from(nested(128)), 128),
    {
      members: [
        { name: 'model', valueStart: 9, valueEnd: 12 },
        { name: 'tools', valueStart: 21, valueEnd: 21 + 2 * 127 },
      ],
      closed: true,
      tooDeep: false,
    },
    '128 levels, the object included: allowed',
  );
  t.equal(topLevelMembers(Buffer.from(nested(129)), 128)?.tooDeep, true, '129 levels: too deep');
  t.equal(
    topLevelMembers(Buffer.from('{"a":"[[[[","b":1}'), 2)?.tooDeep,
    false,
    'brackets inside strings do not count',
  );
  t.equal(
    topLevelMembers(Buffer.from('{"mo\\xdel":1}'))?.closed,
    false,
    'a name whose escape is not JSON ends the walk (the parser then refuses the body)',
  );
  t.equal(topLevelMembers(Buffer.from('[1,2]')), undefined, 'not an object');
});
