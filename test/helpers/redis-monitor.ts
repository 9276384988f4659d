/** What a Redis server was asked to run, for tests that count round trips rather than time them. */
import type { Redis } from 'ioredis';

/** One command as MONITOR shows it: its arguments and who sent it (`lua` for a script's own calls). */
export interface SeenCommand {
  args: string[];
  source: string;
}

/** Every command the server of `redis` runs until `run` is done, in execution order, seen through MONITOR. */
export async function monitored(redis: Redis, run: () => Promise<void>): Promise<SeenCommand[]> {
  const monitor = await redis.monitor();
  const seen: SeenCommand[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ args, source }));
  await run();
  // MONITOR shows commands in execution order: once the marker shows, everything before it has.
  const marker = `done:${Math.random()}`;
  const shown = new Promise<void>((resolve) =>
    monitor.on('monitor', (_t: string, args: string[]) => args[1] === marker && resolve()),
  );
  await redis.echo(marker);
  await shown;
  monitor.disconnect();
  return seen.filter(({ args }) => args[1] !== marker);
}

/** The script calls among `commands` (EVAL on a connection's first call, EVALSHA after). */
export const scriptCalls = (commands: SeenCommand[]) =>
  commands.filter(({ args: [name] }) => /^eval(sha)?$/i.test(name ?? '')).length;
