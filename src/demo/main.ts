/**
 * Entry point of the offline demo (`npm run demo`, `./tollgate demo`, the compose `demo` profile):
 * starts the demo (demo-gateway.ts), prints where it is and how to try it, and stops on SIGTERM/SIGINT.
 */
import '../node-version.js'; // first: exits with a clear message on a Node.js too old for what follows
import { ConfigError } from '../config.js';
import { LogSink } from '../log-sink.js';
import { demoBanner } from './banner.js';
import { startDemo, type Demo } from './demo-gateway.js';

/** stdout, shared by the log lines and the banner so they come out in order (src/log-sink.ts says why). */
const output = new LogSink(1);
/** How long the last lines may take to reach stdout before the process exits regardless. */
const FLUSH_MS = 2_000;

async function main(): Promise<void> {
  const demo = await startDemo({ logStream: output });
  output.write(demoBanner(demo.url, demo.config));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop(demo));
}

async function stop(demo: Demo): Promise<void> {
  await demo.close();
  await output.settled(FLUSH_MS);
  process.exit(0);
}

/** A newcomer's likely failures, in words: a port already taken, a config edited wrong. */
function explain(err: unknown): string {
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return `${(err as Error).message}: something else listens there. Try another port: PORT=8081 npm run demo`;
  }
  return err instanceof ConfigError ? err.message : String((err as Error).stack ?? err);
}

main().catch((err: unknown) => {
  console.error(explain(err));
  process.exit(1);
});
