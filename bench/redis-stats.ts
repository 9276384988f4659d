/**
 * Redis commands per request: `INFO stats commandstats` read before and after a load run, on a
 * connection of the bench's own. Counts are the server's: the commands a Lua script runs (TIME, GET,
 * SET inside the admit script, HINCRBY… inside the usage script) are counted as calls too, next to the
 * EVALSHA that carried them. `total_reads_processed` (read events on the server's
 * sockets) stands for client writes: with ioredis' auto-pipelining, commands issued in the same tick
 * share one write, so reads are closer to round trips than commands are.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface RedisCounts {
  /** Calls per command name (lower case, `info` left out: the bench's own probe). */
  calls: Map<string, number>;
  /** Socket read events the server processed. */
  reads: number;
}

/**
 * Longer than the usage batch window (50 ms) and the settlement delay (100 ms), so the writes a run
 * caused land in that run's snapshot and not in the next one's.
 */
const QUIET_MS = 250;

export class RedisStats {
  readonly #client: Redis;

  constructor(url: string) {
    this.#client = new Redis(url, { maxRetriesPerRequest: 1, enableAutoPipelining: false });
    this.#client.on('error', (err) => console.error(`[bench] redis stats connection: ${err.message}`));
  }

  /** Waits for the target's deferred writes to go out, then reads the counters. */
  async snapshot(): Promise<RedisCounts> {
    await delay(QUIET_MS);
    const info = await this.#client.info('stats', 'commandstats');
    const calls = new Map<string, number>();
    for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name !== 'info') calls.set(name!, Number(count));
    }
    const reads = Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1] ?? NaN);
    return { calls, reads };
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => undefined);
    this.#client.disconnect();
  }
}

/** after − before, less the one read of the `after` probe itself. */
export function difference(before: RedisCounts, after: RedisCounts): RedisCounts {
  const calls = new Map<string, number>();
  for (const [name, count] of after.calls) {
    const delta = count - (before.calls.get(name) ?? 0);
    if (delta > 0) calls.set(name, delta);
  }
  return { calls, reads: after.reads - before.reads - 1 };
}

/** Adds `more` into `into`. */
export function accumulate(into: RedisCounts, more: RedisCounts): void {
  for (const [name, count] of more.calls) into.calls.set(name, (into.calls.get(name) ?? 0) + count);
  into.reads += more.reads;
}
