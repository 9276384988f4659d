// The operator CLI (`run()` from src/cli.ts) against a real gateway on Redis: keys create → the key
// works with the SDK → usage shows its requests → keys revoke → the key is refused.
import t from 'tap';
import { AuthenticationError } from 'openai';
import { run } from '../../../src/cli.js';
import { ADMIN_TOKEN, expectedCostUsd, flushUsage, adminOnRedis, upstreamAndRedis } from '../../helpers/admin-http.js';
import { ALIAS, startGateway } from '../../helpers/gateway.js';
import { DEFAULT_PROMPT_TOKENS, DEFAULT_TEXT, wordChunks } from '../../helpers/mock-upstream.js';

const { mock, redis, prefix: PREFIX } = await upstreamAndRedis(t, 'cli');
const gw = await startGateway({
  primary: mock,
  captureLogs: true,
  configure: adminOnRedis(redis.url, PREFIX),
});
t.teardown(() => gw.close());

const env = { TOLLGATE_URL: gw.url, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };

/** Runs the CLI in-process and collects what it printed. */
async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, env, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

const HELLO = { model: ALIAS, messages: [{ role: 'user' as const, content: 'hi' }] };

const ONE_CALL = {
  promptTokens: DEFAULT_PROMPT_TOKENS,
  cachedTokens: 0,
  completionTokens: wordChunks(DEFAULT_TEXT).length,
  reasoningTokens: 0,
};

t.test('keys create → use → usage → revoke against a real gateway', async (t) => {
  const created = await cli([
    'keys',
    'create',
    '--name',
    'cli-key',
    '--tier',
    'tier-1',
    '--team',
    'ops',
    '--models',
    ALIAS,
    '--budget',
    '2.5',
  ]);
  t.equal(created.code, 0, 'keys create exits 0');
  t.match(created.stderr, /not shown again/, 'and warns the key is shown once');
  const record = JSON.parse(created.stdout);
  t.match(
    record,
    {
      id: /^key_/,
      key: /^sk-tg-[0-9A-Za-z]{43}$/,
      name: 'cli-key',
      tier: 'tier-1',
      team: 'ops',
      models: [ALIAS],
      budgetUsd: 2.5,
      status: 'active',
    },
    'it prints the new key once',
  );

  const client = gw.client(record.key);
  t.equal(
    (await client.chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] })).choices[0]
      ?.message.content,
    DEFAULT_TEXT,
    'call 1 with the new key',
  );
  t.equal(
    (await client.responses.create({ model: ALIAS, input: 'hi' })).output_text,
    DEFAULT_TEXT,
    'call 2 with the new key',
  );
  await flushUsage(gw);

  const json = await cli(['usage', '--key', record.id, '--json']);
  t.equal(json.code, 0, 'usage --json exits 0');
  const [row] = JSON.parse(json.stdout);
  t.match(
    row,
    {
      requests: 2,
      promptTokens: 2 * ONE_CALL.promptTokens,
      completionTokens: 2 * ONE_CALL.completionTokens,
      cachedTokens: 0,
      reasoningTokens: 0,
      estimatedRequests: 0,
    },
    'usage --key shows the two calls',
  );
  t.ok(Math.abs(row.costUsd - 2 * expectedCostUsd(ONE_CALL)) < 1e-9, 'and their cost');

  const table = await cli(['usage', '--team', 'ops', '--group-by', 'key,model']);
  t.equal(table.code, 0, 'usage (table) exits 0');
  const lines = table.stdout.trimEnd().split('\n');
  t.match(
    lines[0],
    /^keyId\s+keyName\s+team\s+model\s+requests\s+promptTokens/,
    "a table headed by the grouping columns, the key's name and team beside its id",
  );
  t.equal(lines.length, 2, 'one row: the team has one key and one model');
  t.match(
    lines[1],
    new RegExp(
      `^${record.id}\\s+cli-key\\s+ops\\s+${ALIAS.replaceAll('.', '\\.')}\\s+2\\s+${2 * ONE_CALL.promptTokens}\\s`,
    ),
    'the row counts the two calls',
  );

  const csv = await cli(['usage', '--key', record.id, '--group-by', 'model', '--csv']);
  t.equal(
    csv.stdout.split('\r\n')[1]?.split(',').slice(0, 2).join(','),
    `${ALIAS},2`,
    'usage --csv: the model and its requests',
  );

  const listed = await cli(['keys', 'list']);
  t.ok(
    listed.stdout
      .split('\n')
      .some((line) => line.startsWith(record.id) && /cli-key\s+tier-1\s+ops\s+active\s+2\.5/.test(line)),
    'keys list shows it active',
  );

  const revoked = await cli(['keys', 'revoke', record.id]);
  t.equal(revoked.code, 0, 'keys revoke exits 0');
  t.match(
    JSON.parse(revoked.stdout),
    { id: record.id, status: 'revoked', revokedAt: String },
    'and prints the revoked record',
  );
  const refused = await client.chat.completions
    .create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.type(refused, AuthenticationError, 'the revoked key gets 401');

  const after = await cli(['keys', 'list', '--json']);
  const listedRecord = JSON.parse(after.stdout).find((k: { id: string }) => k.id === record.id);
  t.match(listedRecord, { status: 'revoked' }, 'keys list --json shows it revoked');
  t.notOk(
    after.stdout.includes(record.key) || after.stdout.includes('sha256'),
    'with neither the plaintext nor the hash',
  );
  t.notOk(gw.logs.lines.join('').includes(record.key), 'the plaintext never reached the gateway logs');
  t.equal(
    JSON.parse((await cli(['usage', '--key', record.id, '--json'])).stdout)[0].requests,
    2,
    'the refused call is not usage',
  );
});

t.test('keys update changes and clears fields over PATCH; the gateway applies them', async (t) => {
  const { id, key } = JSON.parse((await cli(['keys', 'create', '--name', 'upd', '--tier', 'tier-1'])).stdout);
  const updated = await cli([
    'keys', 'update', id, '--tier', 'free', '--models', ALIAS, '--budget', '0', '--expires', '2099-01-01',
    '--team', 'blue',
  ]);
  t.equal(updated.code, 0, 'keys update exits 0');
  t.match(
    JSON.parse(updated.stdout),
    { id, tier: 'free', models: [ALIAS], budgetUsd: 0, expiresAt: '2099-01-01T00:00:00.000Z', team: 'blue' },
    'it prints the updated record',
  );
  const refused = await gw.client(key).chat.completions.create(HELLO).catch((err: unknown) => err);
  t.match(refused, { status: 429, code: 'insufficient_quota' }, 'the new budget of 0 applies to the key');

  const cleared = await cli(['keys', 'update', id, '--team', 'none', '--models', 'none', '--budget', 'none',
    '--expires', 'none', '--name', 'renamed']);
  t.equal(cleared.code, 0, 'clearing exits 0');
  const record = JSON.parse(cleared.stdout);
  t.match(record, { id, name: 'renamed', tier: 'free', status: 'active' }, 'renamed, the tier kept');
  t.same(
    ['team', 'models', 'budgetUsd', 'expiresAt'].filter((field) => field in record),
    [],
    'none cleared team, models, budget and expiry',
  );
  const answer = await gw.client(key).chat.completions.create(HELLO);
  t.equal(answer.choices[0]?.message.content, DEFAULT_TEXT, 'without a budget the key is served again');

  const nothing = await cli(['keys', 'update', id]);
  t.equal(nothing.code, 2, 'no field given: exit 2');
  t.match(nothing.stderr, /needs at least one of --name, --tier/, 'saying what it needs');
  const badTier = await cli(['keys', 'update', id, '--tier', 'gold']);
  t.equal(badTier.code, 1, 'an unknown tier: exit 1');
  t.match(badTier.stderr, /400 .*unknown tier "gold"/, "with the API's message");
  const badBudget = await cli(['keys', 'update', id, '--budget', 'lots']);
  t.equal(badBudget.code, 2, 'a budget that is not a number: exit 2');
  const staticKey = gw.app.keys.staticKeys[0]!.id;
  const readOnly = await cli(['keys', 'update', staticKey, '--tier', 'free']);
  t.equal(readOnly.code, 1, 'a config key: exit 1');
  t.match(readOnly.stderr, /read-only/, 'it is read-only');
});

t.test('usage --by team and --by hour', async (t) => {
  const red = JSON.parse((await cli(['keys', 'create', '--name', 'r', '--tier', 'tier-1', '--team', 'red'])).stdout);
  await gw.client(red.key).chat.completions.create(HELLO);
  await flushUsage(gw);

  const byTeam = await cli(['usage', '--by', 'team', '--json']);
  t.equal(byTeam.code, 0, 'usage --by team exits 0');
  const rows = JSON.parse(byTeam.stdout) as { team: string | null; requests: number }[];
  t.match(rows.find((row) => row.team === 'red'), { requests: 1 }, "team red's one call");
  t.ok(rows.every((row) => Object.keys(row)[0] === 'team'), 'every row grouped by team');
  const table = (await cli(['usage', '--by', 'team'])).stdout.trimEnd().split('\n');
  t.match(table[0], /^team\s+requests\s/, 'the table starts with the team column');
  t.ok(table.some((line) => /^red\s+1\s/.test(line)), 'red with one request');

  const byHour = await cli(['usage', '--by', 'hour,team', '--team', 'red', '--csv']);
  t.equal(byHour.code, 0, 'usage --by hour,team --csv exits 0');
  const lines = byHour.stdout.trimEnd().split('\r\n');
  t.match(lines[0], /^hour,team,requests,/, 'the CSV: hour, team, then the counters');
  t.equal(lines.length, 2, "one hour of the team's usage");
  t.match(lines[1], /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z,red,1,/, 'the current hour, one request');

  const both = await cli(['usage', '--by', 'team', '--group-by', 'day']);
  t.equal(both.code, 2, '--by with --group-by: exit 2');
  const hourAndDay = await cli(['usage', '--by', 'hour,day']);
  t.equal(hourAndDay.code, 1, 'hour with day: exit 1');
  t.match(hourAndDay.stderr, /400 .*hour and day cannot be grouped together/, "with the API's message");
});
