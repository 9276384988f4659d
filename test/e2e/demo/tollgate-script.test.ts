// ./tollgate, the two commands of a fresh clone, run for real in a scratch copy of the repository's
// script and scripts/node22.sh, with a stand-in `npm` first on PATH that records how it is called
// (and, asked to, "installs" Node.js as a link to the node running this test): whether it brings
// Node.js 22+, when it runs `npm ci`, what it runs then. No network and no real install is involved.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FAKE_NPM = `#!/bin/sh
# Records each call with the major version of the node first on PATH ("old" when it is not 22+).
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo old)
echo "$* [node $major]" >> "$NPM_LOG"
case "$1" in
  ci)
    [ -z "$NPM_CI_FAILS" ] || exit 1
    mkdir -p node_modules && : > node_modules/.package-lock.json ;;
  install)
    [ -z "$NPM_INSTALL_FAILS" ] || exit 1
    for arg; do [ "$previous" = --prefix ] && prefix=$arg; previous=$arg; done
    package=\${arg%@*}
    mkdir -p "$prefix/node_modules/$package/bin"
    ln -s "$REAL_NODE" "$prefix/node_modules/$package/bin/node" ;;
esac
`;
/** What an old Node.js answers scripts/node22.sh's version check with. */
const OLD_NODE = '#!/bin/sh\nexit 1\n';

interface Checkout {
  dir: string;
  run(args: string[], env?: Record<string, string>): { status: number | null; npm: string[]; stderr: string };
}

/** A scratch repository with the real ./tollgate and scripts/node22.sh; `oldNode` shadows node with an old one. */
function checkout(t: Test, { oldNode = false } = {}): Checkout {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-script-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync('tollgate', join(dir, 'tollgate'));
  mkdirSync(join(dir, 'scripts'));
  cpSync('scripts/node22.sh', join(dir, 'scripts/node22.sh'));
  writeFileSync(join(dir, 'package-lock.json'), '{}\n');
  const bin = join(dir, 'fake-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npm'), FAKE_NPM);
  chmodSync(join(bin, 'npm'), 0o755);
  if (oldNode) {
    writeFileSync(join(bin, 'node'), OLD_NODE);
    chmodSync(join(bin, 'node'), 0o755);
  }
  const nodeDir = process.execPath.replace(/\/node$/, '');
  const log = join(dir, 'npm.log');
  return {
    dir,
    run(args, env = {}) {
      rmSync(log, { force: true });
      const res = spawnSync(join(dir, 'tollgate'), args, {
        encoding: 'utf8',
        env: {
          HOME: dir,
          PATH: oldNode ? `${bin}:/usr/bin:/bin` : `${bin}:${nodeDir}:/usr/bin:/bin`,
          TOLLGATE_NODE_DIR: join(dir, 'node-cache'),
          NPM_LOG: log,
          REAL_NODE: process.execPath,
          ...env,
        },
      });
      const npm = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
      return { status: res.status, npm: npm.map((call) => call.replace(/\[node \d+\]/, '[node 22+]')), stderr: res.stderr };
    },
  };
}

/** Sets node_modules/.package-lock.json (npm's record of the last install) older or newer than the lock. */
function installed(dir: string, relativeToLock: 'newer' | 'older'): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  const hidden = join(dir, 'node_modules/.package-lock.json');
  writeFileSync(hidden, '{}\n');
  const lock = new Date('2026-01-01T00:00:00Z');
  const other = new Date(lock.getTime() + (relativeToLock === 'newer' ? 60_000 : -60_000));
  utimesSync(join(dir, 'package-lock.json'), lock, lock);
  utimesSync(hidden, other, other);
}

const CI = 'ci --no-audit --no-fund [node 22+]';

t.test('a fresh clone: test runs npm ci, then npm test', async (t) => {
  const { status, npm } = checkout(t).run(['test']);
  t.equal(status, 0);
  t.same(npm, [CI, 'test [node 22+]']);
});

t.test('node_modules current: no npm ci', async (t) => {
  const repo = checkout(t);
  installed(repo.dir, 'newer');
  t.same(repo.run(['test']).npm, ['test [node 22+]'], 'test');
  t.same(repo.run(['demo']).npm, ['run --silent demo [node 22+]'], 'demo');
});

t.test('package-lock.json newer than the last install: npm ci again', async (t) => {
  const repo = checkout(t);
  installed(repo.dir, 'older');
  t.same(repo.run(['demo']).npm, [CI, 'run --silent demo [node 22+]']);
});

t.test('npm ci fails: the script stops with it', async (t) => {
  const { status, npm } = checkout(t).run(['test'], { NPM_CI_FAILS: '1' });
  t.not(status, 0);
  t.same(npm, [CI], 'npm test is not run');
});

t.test('an old Node.js: Node.js 24 from the npm registry first, then everything runs on it', async (t) => {
  const repo = checkout(t, { oldNode: true });
  const { status, npm, stderr } = repo.run(['test']);
  t.equal(status, 0);
  t.match(npm[0], /^install --prefix \S+\/node-cache .*node-(linux|darwin)-(x64|arm64)@24 \[node old\]$/,
    "node22.sh installs the registry's Node.js build into TOLLGATE_NODE_DIR");
  t.same(npm.slice(1), [CI, 'test [node 22+]'], 'npm ci and npm test run with Node.js 22+ first on PATH');
  t.match(stderr, /installing Node\.js 24/);
});

t.test('no Node.js 22+ to be had: the script stops before npm ci', async (t) => {
  const { status, npm, stderr } = checkout(t, { oldNode: true }).run(['test'], { NPM_INSTALL_FAILS: '1' });
  t.not(status, 0);
  t.equal(npm.length, 1, 'only the attempted Node.js install');
  t.match(stderr, /no Node\.js 22 or newer on PATH/);
});

t.test('anything else: the usage, exit 2, nothing run', async (t) => {
  const { status, npm, stderr } = checkout(t).run(['start']);
  t.equal(status, 2);
  t.same(npm, []);
  t.match(stderr, /usage: \.\/tollgate demo \| test/);
});
