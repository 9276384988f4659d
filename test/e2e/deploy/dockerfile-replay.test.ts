// Replays the Dockerfile without Docker, so a broken recipe fails CI on a machine without a Docker
// engine: every stage gets a scratch directory as its filesystem root, every instruction runs in order
// (COPY from the build context honouring .dockerignore or from an earlier stage, RUN through /bin/sh in
// the stage's WORKDIR with its ENV), then the final stage's CMD is started the way a container would
// start it, its HEALTHCHECK command must pass, and SIGTERM must stop it cleanly with exit code 0.
//
// Differences from a real build, kept deliberately small: the host's node (the test's own, process.execPath)
// and npm stand in for the base image's, RUN runs as the current user, and npm uses the host's cache
// (prefer-offline) so the test works without network once the cache is warm.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  durationMs,
  execForm,
  parseEnv,
  parseHealthcheck,
  parserDirectives,
  readDockerfile,
  splitFlags,
  type Healthcheck,
} from '../../helpers/dockerfile.js';

// Two `npm ci` runs and a TypeScript build: far beyond the default per-file timeout.
t.setTimeout(600_000);

const repo = resolvePath(dirname(fileURLToPath(import.meta.url)), '../../..');
const RUN_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const ADMIN_TOKEN = 'tg-admin-replay-0123456789abcdef';

const work = mkdtempSync(join(tmpdir(), 'tollgate-dockerfile-'));
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const child of children) killTree(child);
  rmSync(work, { recursive: true, force: true });
});

function killTree(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // detached: the child leads its own process group
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * The environment children start from: the host's, minus what the test runner and an enclosing
 * `npm test` inject (tsx loader options, tap's variables, npm lifecycle config), which would leak into
 * the replayed npm and node processes.
 */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(TAP|_TAP|NODE_OPTIONS$|NODE_V8_COVERAGE$|NODE_ENV$|npm_|INIT_CWD$)/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

/** Spawns argv, collects stdout+stderr, kills the whole process group after timeoutMs. */
function run(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('empty command'));
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let output = '';
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child);
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, output, timedOut });
    });
  });
}

const tail = (s: string, n = 3000) => (s.length > n ? `…${s.slice(-n)}` : s);
/** `node` in an exec-form argv is the image's node; here it is the node running this test. */
const hostArgv = (argv: string[]) => (argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv);

// ---------------------------------------------------------------------------------------------------
// .dockerignore: the subset of its syntax used here (plain paths, `*` globs, `**/` prefixes, `!` re-includes).

function readDockerignore(): Array<{ negate: boolean; re: RegExp }> {
  const file = join(repo, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      const body = pattern
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '(?:.*)'
            : seg
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')
              .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      // A matching directory excludes everything below it.
      return { negate, re: new RegExp(`^${body}(?:/.*)?$`) };
    });
}
const ignoreRules = readDockerignore();
function ignored(relPath: string): boolean {
  let out = false;
  for (const rule of ignoreRules) if (rule.re.test(relPath)) out = !rule.negate;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The replay.

interface Stage {
  name: string;
  image: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  expose: string[];
  healthcheck?: Healthcheck;
  cmd?: string[];
}

/** A path inside the stage's filesystem (absolute, or relative to WORKDIR) → a host path. */
const inStage = (stage: Stage, p: string) => join(stage.root, posix.resolve(stage.workdir, p));

function copyInto(src: string, dest: string, destIsDir: boolean, filter?: (src: string) => boolean): void {
  if (statSync(src).isDirectory()) {
    // Docker copies a directory's contents, not the directory itself.
    mkdirSync(dest, { recursive: true });
    cpSync(src, dest, { recursive: true, filter });
  } else {
    const target = destIsDir ? join(dest, basename(src)) : dest;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(src, target);
  }
}

const instructions = readDockerfile(join(repo, 'Dockerfile'));
const stages: Stage[] = [];
/** Set once every instruction replayed; the later tests need the whole image. */
let replayed = false;

t.test('Dockerfile uses only instructions the replay understands', async (t) => {
  const known = new Set(['FROM', 'WORKDIR', 'ENV', 'COPY', 'RUN', 'USER', 'EXPOSE', 'HEALTHCHECK', 'CMD']);
  const unknown = instructions
    .filter((ins) => !known.has(ins.keyword))
    .map((ins) => `line ${ins.line}: ${ins.keyword}`);
  t.same(unknown, [], `every instruction is one of ${[...known].join(', ')} (extend this test for new ones)`);
  t.equal(instructions[0]?.keyword, 'FROM', 'the Dockerfile starts with FROM');
});

t.test('the build fetches no frontend image from a registry: no # syntax= directive', async (t) => {
  // With BuildKit, `# syntax=docker/dockerfile:1` pulls that image from Docker Hub before the first FROM,
  // so the build failed wherever Docker Hub is unreachable. The frontend built into the engine reads
  // everything this file uses; the replay test below refuses RUN flags and every COPY flag but --from.
  const text = readFileSync(join(repo, 'Dockerfile'), 'utf8');
  t.notOk('syntax' in parserDirectives(text), 'no syntax parser directive at the top of the Dockerfile');
  t.notMatch(
    text,
    /^#\s*syntax\s*=/im,
    'no syntax line anywhere (a later one would become a directive if the lines above it went)',
  );
  t.same(
    parserDirectives('# syntax=docker/dockerfile:1\n# escape=`\nFROM x'),
    { syntax: 'docker/dockerfile:1', escape: '`' },
    'the directive reader finds a syntax line when there is one',
  );
});

t.test('replay every instruction in order', async (t) => {
  let stage: Stage | undefined;
  /** Structural problems fail with their reason; what works is reported once per instruction. */
  const bad = (cond: unknown, message: string): boolean => {
    if (cond) t.fail(message);
    return Boolean(cond);
  };
  for (const ins of instructions) {
    const where = `line ${ins.line}: ${ins.keyword} ${ins.args}`;
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (bad(!m, `${where}: expected FROM <image> [AS <name>]`) || !m) return;
      const image = m[1]!;
      if (bad(stages.some((s) => s.name === image), `${where}: FROM an earlier stage is not replayed`)) return;
      const major = /^node:(\d+)/.exec(image)?.[1];
      if (bad(!major, `${where}: the base image must be an official node image with a major version tag`)) return;
      if (major && major !== process.versions.node.split('.')[0]) {
        t.comment(`note: the image uses Node ${major}, this replay runs on Node ${process.versions.node}`);
      }
      const name = m[2] ?? String(stages.length);
      stage = { name, image, root: join(work, `stage-${stages.length}-${name}`), workdir: '/', env: {}, expose: [] };
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      t.ok(existsSync(stage.root), `${where}: new stage`);
      continue;
    }
    if (bad(!stage, `${where}: comes before any FROM`) || !stage) return;
    switch (ins.keyword) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, ins.args);
        mkdirSync(inStage(stage, '.'), { recursive: true });
        break;
      case 'ENV':
        stage.env = { ...stage.env, ...parseEnv(ins.args) };
        break;
      case 'USER':
        stage.user = ins.args;
        break;
      case 'EXPOSE':
        stage.expose.push(...ins.args.split(/\s+/));
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = parseHealthcheck(ins.args);
        break;
      case 'CMD': {
        const argv = execForm(ins.args);
        if (bad(!argv, `${where}: CMD must be in exec form, so signals reach node instead of a shell`)) return;
        stage.cmd = argv;
        break;
      }
      case 'COPY': {
        const { flags, rest } = splitFlags(ins.args);
        const unknownFlags = Object.keys(flags).filter((f) => f !== 'from');
        if (bad(unknownFlags.length > 0, `${where}: only --from is replayed, not ${unknownFlags.join(', ')}`)) return;
        const parts = execForm(rest) ?? rest.split(/\s+/);
        const dest = parts.pop();
        if (bad(!dest || parts.length === 0, `${where}: expected COPY <src>... <dest>`) || !dest) return;
        if (bad(parts.some((p) => /[*?[]/.test(p)), `${where}: wildcards in COPY sources are not replayed`)) return;
        const destIsDir = dest.endsWith('/') || parts.length > 1;
        const from = flags.from === undefined ? undefined : stages.find((s) => s.name === flags.from);
        if (
          bad(flags.from !== undefined && !from, `${where}: --from=${flags.from} does not name an earlier stage`)
        ) {
          return;
        }
        for (const src of parts) {
          let hostSrc: string;
          let filter: ((p: string) => boolean) | undefined;
          if (from) {
            hostSrc = join(from.root, posix.resolve('/', src)); // --from sources are relative to that stage's root
          } else {
            hostSrc = join(repo, posix.normalize(src));
            const rel = relative(repo, hostSrc);
            if (
              bad(
                rel.startsWith('..') || ignored(rel),
                `${where}: ${src} is outside the build context or excluded by .dockerignore`,
              )
            ) { return; }
            filter = (p) => !ignored(relative(repo, p));
          }
          if (bad(!existsSync(hostSrc), `${where}: source ${src} does not exist`)) return;
          copyInto(hostSrc, inStage(stage, dest), destIsDir, filter);
        }
        t.ok(existsSync(inStage(stage, dest)), `${where}: copied`);
        break;
      }
      case 'RUN': {
        const { flags, rest } = splitFlags(ins.args);
        if (bad(Object.keys(flags).length > 0, `${where}: RUN flags (--mount etc.) are not replayed`)) return;
        const env = {
          ...baseEnv(),
          ...stage.env,
          // Offline-friendly: take packages from the host's npm cache whenever it has them.
          npm_config_prefer_offline: 'true',
          npm_config_update_notifier: 'false',
          npm_config_loglevel: 'warn',
        };
        const argv = execForm(rest) ?? ['/bin/sh', '-c', rest];
        const started = Date.now();
        const res = await run(argv, { cwd: inStage(stage, '.'), env, timeoutMs: RUN_TIMEOUT_MS });
        t.comment(`${where}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (
          !t.ok(res.code === 0 && !res.timedOut, `${where}: exits 0${res.timedOut ? ' (timed out)' : ''}`, {
            output: tail(res.output),
          })
        ) { return; }
        break;
      }
      default:
        t.fail(`${where}: not replayable`);
        return;
    }
  }
  replayed = true;
});

// ---------------------------------------------------------------------------------------------------
// What the final image contains.

const final = () => stages.at(-1);

t.test('the final stage is a small production image', async (t) => {
  const stage = final();
  if (!replayed || !stage) {
    t.fail('the replay did not complete (see above), so there is no image to check');
    return;
  }
  t.equal(stage.env.NODE_ENV, 'production', 'NODE_ENV=production');
  t.equal(stage.user, 'node', 'runs as the unprivileged node user');
  t.ok(stage.expose.includes('8080') || stage.expose.includes('8080/tcp'), 'EXPOSE 8080');
  t.same(stage.cmd, ['node', 'dist/src/server.js'], 'CMD runs the compiled server in exec form');
  t.ok(existsSync(inStage(stage, 'dist/src/server.js')), 'dist/src/server.js was built and copied');
  t.ok(existsSync(inStage(stage, 'node_modules/fastify/package.json')), 'production dependencies installed');
  for (const dev of ['typescript', 'tap', 'tsx']) {
    t.notOk(existsSync(inStage(stage, `node_modules/${dev}`)), `devDependency ${dev} is not in the image`);
  }
  t.notOk(existsSync(inStage(stage, 'src/server.ts')), 'TypeScript sources are not in the image');
  const configPath = stage.env.TOLLGATE_CONFIG;
  t.equal(configPath, '/etc/tollgate/tollgate.yaml', 'TOLLGATE_CONFIG points at the documented mount path');
  if (configPath) {
    const inImage = inStage(stage, configPath);
    t.ok(existsSync(inImage), 'the default config is at TOLLGATE_CONFIG');
    if (existsSync(inImage)) {
      t.equal(
        readFileSync(inImage, 'utf8'),
        readFileSync(join(repo, 'config/tollgate.yaml'), 'utf8'),
        'and it is config/tollgate.yaml',
      );
    }
  }
  t.ok(stage.healthcheck, 'the image has a HEALTHCHECK');
  t.equal(stage.healthcheck?.argv[0], 'node', 'the HEALTHCHECK uses node itself (no curl in slim images)');
});

// ---------------------------------------------------------------------------------------------------
// Start it like a container: CMD in WORKDIR with the image's ENV, probe with HEALTHCHECK, stop with SIGTERM.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The image's ENV with absolute paths that exist inside the stage redirected to the stage root. */
function containerEnv(stage: Stage, port: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(stage.env)) {
    env[k] = v.startsWith('/') && existsSync(inStage(stage, v)) ? inStage(stage, v) : v;
  }
  // Only what a container would have: no provider keys or REDIS_URL leak in from the host. An admin token,
  // so the image must also ship what the admin side serves (the dashboard's files).
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };
  return { ...base, ...env, PORT: String(port), HOST: '127.0.0.1' };
}

t.test('the image starts, passes its HEALTHCHECK and stops cleanly on SIGTERM', async (t) => {
  const stage = final();
  if (!replayed || !stage?.cmd || !stage.healthcheck) {
    t.fail('nothing to start: the replay did not produce a final stage with CMD and HEALTHCHECK');
    return;
  }
  const healthcheck = stage.healthcheck;
  const checkTimeout = durationMs(healthcheck.options.timeout ?? '30s');
  const port = await freePort();
  const env = containerEnv(stage, port);
  const cwd = inStage(stage, '.');
  const [cmd, ...args] = hostArgv(stage.cmd);
  const server = spawn(cmd!, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(server);
  let output = '';
  server.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': it comes after stdout/stderr are drained, so `output` is complete.
    server.on('close', (code, signal) => {
      children.delete(server);
      resolve({ code, signal });
    }),
  );
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  // Probe with the image's own HEALTHCHECK command until it passes (what Docker does during start-period).
  const probe = () => run(hostArgv(healthcheck.argv), { cwd, env, timeoutMs: checkTimeout });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: RunResult | undefined;
  // eslint-disable-next-line no-unmodified-loop-condition -- set by the exited promise between probes
  while (!hasExited && Date.now() < deadline) {
    last = await probe();
    if (last.code === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!t.notOk(hasExited, 'the server keeps running after start', { output: tail(output) })) return;
  t.equal(last?.code, 0, `the HEALTHCHECK command exits 0 within ${START_TIMEOUT_MS / 1000} s`, {
    output: tail(output),
    healthcheck: last?.output,
  });
  t.match(output, /Server listening at http:\/\/127\.0\.0\.1:\d+/, 'the server listens on the PORT it was given');
  const dashboard = await fetch(`http://127.0.0.1:${port}/dashboard/`);
  t.equal(dashboard.status, 200, 'the image ships the dashboard');
  t.match(dashboard.headers.get('content-type'), /^text\/html/);

  // A healthcheck that always passes would be useless: against a closed port it must fail.
  const closedPort = await freePort();
  const failing = await run(hostArgv(healthcheck.argv), {
    cwd,
    env: { ...env, PORT: String(closedPort) },
    timeoutMs: checkTimeout,
  });
  t.not(failing.code, 0, 'the HEALTHCHECK command fails when nothing answers');

  // docker stop: SIGTERM to the CMD process, which must drain and exit 0 well within stop_grace_period.
  const stopStarted = Date.now();
  server.kill('SIGTERM');
  const result = await Promise.race([
    exited,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref()),
  ]);
  t.not(result, 'timeout', `exits within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM`, { output: tail(output) });
  if (result !== 'timeout') {
    t.same(result, { code: 0, signal: null }, 'exit code 0 after SIGTERM (a graceful shutdown, not a kill)', {
      output: tail(output),
    });
    t.comment(`stopped ${Date.now() - stopStarted} ms after SIGTERM`);
  }
  t.notMatch(output, /"level":(50|60)\b/, 'no error or fatal log lines from start to stop', { output: tail(output) });
});
