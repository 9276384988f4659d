// LogSink, the server's stdout: a log reader that goes away (EPIPE) must neither crash the process nor
// keep it alive. pino's own stdout destination, at exit, retried such a write forever.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { LogSink } from '../../src/log-sink.js';

/** A FIFO whose reader has been closed: every write to the returned descriptor fails with EPIPE. */
function brokenPipe(t: Test): number {
  const path = join(mkdtempSync(join(tmpdir(), 'tollgate-log-sink-')), 'fifo');
  const made = spawnSync('mkfifo', [path]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY);
  closeSync(reader);
  t.teardown(() => closeSync(writer));
  return writer;
}

t.test('a log reader that went away stops the sink: one report, no retry, later lines dropped', async (t) => {
  const failures: NodeJS.ErrnoException[] = [];
  const sink = new LogSink(brokenPipe(t), (err) => failures.push(err));
  for (let i = 0; i < 3; i++) sink.write(`{"msg":"line ${i}"}\n`);
  await sink.settled(30_000);
  t.same(failures.map((err) => err.code), ['EPIPE'], 'the failure is reported once, as EPIPE');
  t.equal(sink.dropped, 3, 'the lines that could not be written are counted as dropped');
  t.equal(sink.write('{"msg":"later"}\n'), true, 'a later line is accepted without an error');
  await sink.settled(30_000);
  t.equal(sink.dropped, 4, 'and dropped, not retried');
  t.equal(failures.length, 1, 'the failure is not reported again');
});

t.test(
  'a process that exits with log lines queued for a reader that went away exits (pino retried EPIPE forever)',
  async (t) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../helpers/fixtures/log-then-exit.ts')],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    t.teardown(() => void child.kill('SIGKILL'));
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    await once(child.stdout, 'data'); // "ready": the sink works while someone reads
    child.stdout.destroy(); // the reader goes away
    child.stdin.end('go\n');
    const bound = new Promise<'still running'>((resolve) =>
      setTimeout(() => resolve('still running'), 30_000).unref(),
    );
    t.equal(await Promise.race([exited, bound]), 0, 'the process exits 0');
  },
);
