/**
 * Shared by the bench child processes: announce the port on stdout (`PORT <n>`, read by run.ts) and
 * shut down on SIGTERM or when the parent goes away (stdin closes), so no server outlives a bench.
 * A clean exit also lets `--cpu-prof` write its profile.
 */
export function announce(port: number, close: () => Promise<unknown>): void {
  console.log(`PORT ${port}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2_000).unref();
    close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop).on('error', stop).resume();
}

/** The tollgate key and model alias the bench uses (the mock and the bare proxy ignore both). */
export const BENCH_KEY = 'tg-bench-0123456789abcdef';
export const BENCH_MODEL = 'bench-model';
