// Node 20 (still the default on many machines) ran `npm start` into an undici TypeError that said nothing
// about the version. The entry points now check first; the repository pins and brings a newer Node itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../src/node-version.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');
/** Preloaded after tsx: the process then reports an old Node.js to every module it loads. */
const FAKE_NODE_20 =
  'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.11.1"}})';

t.test('the version check names the version needed and the one found', async (t) => {
  t.match(
    nodeVersionProblem('20.11.1'),
    /^tollgate needs Node\.js 22 or newer; this is v20\.11\.1 \(/,
    'Node 20 is refused, with both versions',
  );
  t.match(nodeVersionProblem('21.7.3'), /scripts\/node22\.sh/, 'the message says how to get a newer one');
  t.equal(nodeVersionProblem('v18.0.0')?.includes('this is v18.0.0'), true, 'a leading v is accepted');
  t.equal(nodeVersionProblem('22.0.0'), undefined, 'Node 22 runs');
  t.equal(nodeVersionProblem('24.22.3'), undefined, 'Node 24 runs');
  t.equal(MIN_NODE_MAJOR, 22, 'the minimum is 22');
});

for (const entry of ['src/server.ts', 'src/cli.ts']) {
  t.test(`on an old Node.js ${entry} exits 1 with that message before loading anything else`, async (t) => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--import', FAKE_NODE_20, entry, 'keys', 'list'], {
      cwd: repo,
      // A config that cannot be read: had the server got as far as loading it, the error would say so.
      env: {
        ...process.env,
        TOLLGATE_CONFIG: join(tmpdir(), 'tollgate-no-such-config.yaml'),
        TOLLGATE_ADMIN_TOKEN: 'x',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.equal(res.status, 1, 'exit code 1');
    t.match(
      res.stderr,
      /^tollgate needs Node\.js 22 or newer; this is v20\.11\.1/,
      'stderr starts with the version message',
    );
    t.notMatch(res.stderr, /TypeError|configuration|cannot reach/, 'nothing past the check ran');
    t.equal(res.stdout, '', 'nothing on stdout');
  });
}

t.test('the repository pins Node.js 22+ everywhere it is chosen', async (t) => {
  const nvmrc = Number(read('.nvmrc').trim());
  t.ok(nvmrc >= MIN_NODE_MAJOR, `.nvmrc (${nvmrc}) is at least ${MIN_NODE_MAJOR}`);
  t.equal(
    (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node,
    `>=${MIN_NODE_MAJOR}`,
    'package.json engines',
  );
  t.match(read('.npmrc'), /^engine-strict=true$/m, '.npmrc makes npm ci refuse an older Node.js');
  t.match(
    read('scripts/node22.sh'),
    new RegExp(`^_tg_node_major=${nvmrc}$`, 'm'),
    'scripts/node22.sh installs the .nvmrc version',
  );
  const ci = read('.ci/run');
  t.match(ci, /^\. scripts\/node22\.sh$/m, '.ci/run brings its Node.js with scripts/node22.sh');
  t.match(ci, /^\.\/tollgate test\b/m, '.ci/run runs the README\'s test command');
  const script = read('tollgate');
  const brings = script.search(/^\s*\. scripts\/node22\.sh$/m);
  t.ok(brings >= 0 && brings < script.search(/^\s*npm ci\b/m), './tollgate brings its Node.js before npm ci');
  t.notMatch(ci, /\.\.\//, '.ci/run uses no file outside the repository');
});

t.test('scripts/node22.sh puts a cached newer Node.js before an old one on PATH, without the network', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-node22-'));
  // An "old node" first on PATH: it fails the version probe, as Node 20 does.
  mkdirSync(join(dir, 'old'));
  writeFileSync(join(dir, 'old/node'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(dir, 'old/node'), 0o755);
  // The cache already holds the package for this platform (here: this test's own node), so no npm runs.
  const pkg = `node-${process.platform}-${process.arch}`;
  mkdirSync(join(dir, `cache/node_modules/${pkg}/bin`), { recursive: true });
  symlinkSync(process.execPath, join(dir, `cache/node_modules/${pkg}/bin/node`));
  const run = (script: string) =>
    spawnSync('sh', ['-c', script], {
      cwd: repo,
      env: { PATH: `${join(dir, 'old')}:/usr/bin:/bin`, TOLLGATE_NODE_DIR: join(dir, 'cache'), HOME: dir },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const sourced = run('. scripts/node22.sh && command -v node && node -p process.versions.node');
  t.equal(sourced.status, 0, 'sourcing succeeds', { stderr: sourced.stderr });
  const [path, version] = sourced.stdout.trim().split('\n');
  t.equal(path, join(dir, `cache/node_modules/${pkg}/bin/node`), 'the cached Node.js is first on PATH');
  t.equal(version, process.versions.node, 'and it is the newer one');
  const wrapped = run('scripts/with-node22 node -p "Number(process.versions.node.split(\'.\')[0]) >= 22"');
  t.equal(wrapped.stdout.trim(), 'true', 'scripts/with-node22 runs a command with it');
});
