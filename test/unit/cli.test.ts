import type { AddressInfo } from 'node:net';
import t from 'tap';
import { run } from '../../src/cli.js';
import { ADMIN_TOKEN, buildAdminApp } from '../helpers/admin-app.js';

const { app, red } = await buildAdminApp();
await app.listen({ port: 0, host: '127.0.0.1' });
t.teardown(() => app.close());
const env = { TOLLGATE_URL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };

/** Runs the CLI in-process and collects what it printed. */
async function cli(argv: string[], environment: NodeJS.ProcessEnv = env) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, environment, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

t.test('keys create, get, list and revoke', async (t) => {
  const created = await cli([
    'keys',
    'create',
    '--name',
    'alice',
    '--tier',
    'tier-1',
    '--team',
    'x',
    '--models',
    'gpt-test, gpt-mini',
    '--budget',
    '10',
    '--expires',
    '2027-01-01',
  ]);
  t.equal(created.code, 0, 'create exits 0');
  const record = JSON.parse(created.stdout);
  t.match(
    record,
    { id: /^key_/, key: /^sk-tg-/, name: 'alice', team: 'x', models: ['gpt-test', 'gpt-mini'], budgetUsd: 10 },
    'create prints the record and key',
  );
  t.match(created.stderr, /not shown again/, 'create warns that the key is shown once');

  const got = await cli(['keys', 'get', record.id]);
  t.match(JSON.parse(got.stdout), { id: record.id, name: 'alice' }, 'get prints the record');

  const listed = await cli(['keys', 'list']);
  const lines = listed.stdout.trimEnd().split('\n');
  t.match(lines[0], /^id\s+name\s+tier\s+team\s+status\s+budgetUsd\s+expiresAt\s+source$/, 'list prints a header');
  t.ok(
    lines.some((line) => line.startsWith(record.id) && /alice\s+tier-1\s+x\s+active\s+10/.test(line)),
    'list prints an aligned row per key',
  );
  t.equal(new Set(lines.map((line) => line.indexOf('tier'))).size, 1, 'columns line up');
  t.same(JSON.parse((await cli(['keys', 'list', '--json'])).stdout).length, 4, 'list --json prints every key');

  const revoked = await cli(['keys', 'revoke', record.id]);
  t.match(JSON.parse(revoked.stdout), { id: record.id, status: 'revoked' }, 'revoke prints the revoked record');
});

t.test('usage as table, JSON and CSV', async (t) => {
  const range = ['--from', '2026-03-01', '--to', '2026-03-31'];
  const table = await cli(['usage', ...range, '--group-by', 'day']);
  t.equal(table.code, 0, 'usage exits 0');
  t.match(
    table.stdout,
    /^day\s+requests\s+promptTokens.*\n2026-03-01\s+1\s+100 /,
    'a table with the grouping column first',
  );
  const json = await cli(['usage', ...range, '--key', red.id, '--json']);
  t.match(JSON.parse(json.stdout), [{ requests: 2, costUsd: 0.75 }], '--key filters; --json prints the rows');
  const csv = await cli(['usage', ...range, '--team', 'blue', '--group-by', 'model', '--csv']);
  t.equal(
    csv.stdout,
    'model,requests,promptTokens,cachedTokens,completionTokens,reasoningTokens,costUsd,estimatedRequests\r\n' +
      'gpt-test,1,40,0,20,0,1,0\r\n',
    '--csv prints the API CSV',
  );
});

t.test('failures exit non-zero with the reason', async (t) => {
  const badRequest = await cli(['keys', 'create', '--name', 'a', '--tier', 'gold']);
  t.equal(badRequest.code, 1, 'an API error exits 1');
  t.match(badRequest.stderr, /400 .*unknown tier "gold"/, 'and prints the API message');
  const unauthorized = await cli(['keys', 'list'], { ...env, TOLLGATE_ADMIN_TOKEN: 'wrong' });
  t.match(unauthorized, { code: 1, stderr: /401 Invalid admin token/ }, 'a wrong token exits 1 with the 401 message');
  t.match(
    await cli(['keys', 'get', 'key_000000000000']),
    { code: 1, stderr: /404 No API key/ },
    'an unknown id exits 1',
  );
  t.match(
    await cli(['keys', 'list'], { TOLLGATE_URL: env.TOLLGATE_URL }),
    { code: 1, stderr: /TOLLGATE_ADMIN_TOKEN is not set/ },
    'no token: exit 1',
  );
  t.match(await cli(['keys', 'list'], { ...env, TOLLGATE_URL: 'http://127.0.0.1:1' }), { code: 1, stderr: /cannot reach http:\/\/127\.0\.0\.1:1/ }, 'no gateway: exit 1');
  t.match(
    await cli(['keys', 'frobnicate']),
    { code: 2, stderr: /unknown command "keys frobnicate"/ },
    'unknown command: exit 2',
  );
  t.match(await cli(['keys', 'list', '--colour']), { code: 2, stderr: /--colour/ }, 'unknown option: exit 2');
  t.match(
    await cli(['keys', 'create', '--name', 'a']),
    { code: 2, stderr: /--name and --tier/ },
    'missing --tier: exit 2',
  );
  t.match(
    await cli(['keys', 'create', '--name', 'a', '--tier', 'tier-1', '--budget', 'lots']),
    { code: 2, stderr: /--budget/ },
    'bad --budget: exit 2',
  );
  t.match(await cli(['keys', 'get']), { code: 2, stderr: /one key id/ }, 'get without an id: exit 2');
});

t.test('--help', async (t) => {
  const help = await cli(['--help'], {});
  t.equal(help.code, 0, '--help exits 0 without any environment');
  t.match(help.stdout, /keys create --name <name> --tier <tier>/, 'and describes the commands');
});
