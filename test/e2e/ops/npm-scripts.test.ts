// The npm scripts an operator and a developer type, in a fresh checkout (test/helpers/fresh-checkout.ts):
// `npm start` builds once and does not recompile while dist/ is current, and `npm run dev` prints
// human-readable log lines and restarts on a source change.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { childEnv, freshCheckout } from '../../helpers/fresh-checkout.js';

// A full TypeScript build (or two) on a busy machine.
t.setTimeout(300_000);

interface Started {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves once the output matches `pattern` `count` times. */
  waitFor(pattern: RegExp, count?: number): Promise<void>;
  /** SIGTERM to its whole process group (npm, the shell, tsx, node, pino-pretty), and waits for npm's exit. */
  stop(): Promise<void>;
}

/** `npm run <script>` in `dir`, in a process group of its own, with stdout and stderr collected. */
function npm(t: Test, dir: string, args: string[]): Started {
  const child = spawn('npm', args, { cwd: dir, env: childEnv({ PORT: '0', HOST: '127.0.0.1' }), detached: true });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
    await exited;
  };
  t.teardown(stop);
  return {
    child,
    output: () => output,
    waitFor: (pattern, count = 1) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if ((output.match(new RegExp(pattern, 'g')) ?? []).length >= count) {
            listeners.delete(check);
            resolve();
          } else if (child.exitCode !== null) {
            listeners.delete(check);
            reject(new Error(`npm ${args.join(' ')} exited before ${pattern}:\n${output}`));
          }
        };
        listeners.add(check);
        child.once('close', check);
        check();
      }),
    stop,
  };
}

const LISTENING = /Server listening at http:\/\/127\.0\.0\.1:\d+/;
const mtime = (dir: string, file: string) => statSync(join(dir, file)).mtimeMs;

t.test('npm start: builds when dist/ is missing, then starts without recompiling', async (t) => {
  const dir = freshCheckout(t);
  const first = npm(t, dir, ['start']);
  await first.waitFor(LISTENING);
  await first.stop();
  const built = { server: mtime(dir, 'dist/src/server.js'), errors: mtime(dir, 'dist/src/errors.js') };

  const second = npm(t, dir, ['start']);
  await second.waitFor(LISTENING);
  await second.stop();
  t.equal(mtime(dir, 'dist/src/server.js'), built.server, 'dist/ current: nothing recompiled');
  t.equal(mtime(dir, 'dist/src/errors.js'), built.errors, 'not even one file');

  appendFileSync(join(dir, 'src/errors.ts'), '\n// an edit\n');
  const third = npm(t, dir, ['start']);
  await third.waitFor(LISTENING);
  await third.stop();
  t.not(mtime(dir, 'dist/src/errors.js'), built.errors, 'a changed source file is compiled again');
});

t.test('npm run dev: readable log lines, and a restart when a source file changes', async (t) => {
  const dir = freshCheckout(t);
  const dev = npm(t, dir, ['run', 'dev']);
  await dev.waitFor(LISTENING);
  t.match(dev.output(), /\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at/, 'pino-pretty: time, level, message');
  t.notMatch(dev.output(), /"level":\d+/, 'no JSON lines');

  // The entry point is watched before the server starts (the files it imports only once it reported them).
  appendFileSync(join(dir, 'src/server.ts'), '\n// an edit\n');
  await dev.waitFor(LISTENING, 2);
  t.match(dev.output(), /\[tsx\] change in \.\/src\/server\.ts Restarting/, 'tsx watch restarted it');
  await dev.stop();
});
