// `npx tollgate` right after `npm ci`: bin/tollgate.js runs src/cli.ts through tsx while dist/ is not
// built, the compiled CLI once it is, and says what to do when it has neither (a production install
// without a build).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ADMIN_TOKEN } from '../../helpers/admin-http.js';
import { childEnv, freshCheckout } from '../../helpers/fresh-checkout.js';
import { startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';

/** Runs argv in `dir` (asynchronously: the gateway it talks to is in this process). */
function run(dir: string, argv: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const options = { cwd: dir, env: childEnv(env), encoding: 'utf8' as const, timeout: 60_000 };
    execFile(argv[0]!, argv.slice(1), options, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

t.test('without dist/: the CLI runs from source, by npx and by path', async (t) => {
  const dir = freshCheckout(t);
  for (const argv of [['npx', '--no-install', 'tollgate', '--help'], [process.execPath, 'bin/tollgate.js', '--help']]) {
    const result = await run(dir, argv);
    t.equal(result.status, 0, `${argv.slice(0, 3).join(' ')}: exit 0`);
    t.match(result.stdout, /^Usage: tollgate <command>/, 'prints the usage');
  }

  const mock = await startMockUpstream();
  t.teardown(() => mock.close());
  const gw = await startGateway({
    primary: mock,
    configure: (raw) => {
      raw.admin = { token: ADMIN_TOKEN };
    },
  });
  t.teardown(() => gw.close());
  const list = await run(dir, [process.execPath, 'bin/tollgate.js', 'keys', 'list', '--json'], {
    TOLLGATE_URL: gw.url,
    TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  t.equal(list.status, 0, 'keys list against a gateway: exit 0');
  t.match(JSON.parse(list.stdout), [{ name: 'test' }], "the gateway's keys");
});

t.test('with dist/ built: the compiled CLI', async (t) => {
  const dir = freshCheckout(t);
  mkdirSync(join(dir, 'dist/src'), { recursive: true });
  // A stand-in for the compiled CLI: what the launcher runs is told by what it prints.
  writeFileSync(
    join(dir, 'dist/src/cli.js'),
    "export async function run(argv) { process.stdout.write('compiled ' + argv.join(' ') + '\\n'); return 3; }\n",
  );
  const result = await run(dir, [process.execPath, 'bin/tollgate.js', 'keys', 'list']);
  t.equal(result.stdout, 'compiled keys list\n', 'dist/src/cli.js ran, with the arguments');
  t.equal(result.status, 3, "with the CLI's exit code");
});

t.test('neither dist/ nor tsx (a production install, not built): one line saying what to do', async (t) => {
  const dir = freshCheckout(t, { nodeModules: false });
  const result = await run(dir, [process.execPath, 'bin/tollgate.js', '--help']);
  t.equal(result.status, 1, 'exit 1');
  t.match(result.stderr, /^tollgate: dist\/ is not built and tsx is not installed; run `npm ci` and `npm run build`/);
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
