import { createServer, type AddressInfo } from 'node:net';

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

/** The tollgate key and model aliases the bench uses (the mock and the bare proxy ignore them). */
export const BENCH_KEY = 'tg-bench-0123456789abcdef';
/** Served natively by the mock, chat and Responses alike. */
export const BENCH_MODEL = 'bench-model';
/** The same mock behind a provider that serves only chat: Responses requests are bridged. */
export const BENCH_BRIDGED_MODEL = 'bench-bridged';

/**
 * The text the mock streams, one piece per content chunk (chat `delta.content`, Responses
 * `response.output_text.delta`), so a bench can check every stream arrived whole.
 */
export function streamWords(chunks: number): string[] {
  return Array.from({ length: chunks }, (_, i) => ` word${i + 1}`);
}

/** The i-th of the spread keys (tollgate-server.ts BENCH_KEYS, run.ts's many-keys load). */
export function spreadKey(i: number): string {
  return `tg-bench-spread-${String(i).padStart(4, '0')}`;
}

/** A loopback port free right now, for servers that take a number rather than 0 (Portkey, Redis). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
