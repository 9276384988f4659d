/**
 * A private redis-server for a test file: own port, no persistence, killable and restartable for the
 * fail-open/closed tests, and pausable (SIGSTOP) for the stall tests.
 *
 * With REDIS_URL set (CI with a Redis service), startRedis() uses that server instead: stop() then
 * leaves it running (it is not ours) and kill()/restart() throw. Pass `{ spawn: true }` when a test
 * needs kill()/restart() whatever the environment says.
 *
 * No redis-server outlives the test process, even one killed with SIGKILL (tap's timeout): see
 * scripts/redis-process.ts.
 */
import { freePort, launchRedis } from '../../scripts/redis-process.js';

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: Redis vanishes mid-flight, as in a crash. */
  kill(): Promise<void>;
  /** Starts a fresh (empty) server on the same port, killing the current one first if it still runs. */
  restart(): Promise<void>;
  /**
   * SIGSTOP: the server stops answering but keeps its connections and whatever is sent to them, as a
   * stuck Redis does (commands time out, then run when it wakes). resume() sends SIGCONT.
   */
  pause(): void;
  resume(): void;
}

export async function startRedis(options: { spawn?: boolean } = {}): Promise<RedisServer> {
  const external = process.env.REDIS_URL;
  if (external && !options.spawn) return externalServer(external);
  const port = await freePort();
  let current = await launchRedis(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => current.stop('SIGTERM'),
    kill: () => current.stop('SIGKILL'),
    restart: async () => {
      await current.stop('SIGKILL');
      current = await launchRedis(port);
    },
    pause: () => current.signal('SIGSTOP'),
    resume: () => current.signal('SIGCONT'),
  };
}

function externalServer(url: string): RedisServer {
  const unsupported = async () => {
    throw new Error('kill()/restart() need a spawned server: unset REDIS_URL or call startRedis({ spawn: true })');
  };
  const notOurs = () => {
    throw new Error('pause()/resume() need a spawned server: unset REDIS_URL or call startRedis({ spawn: true })');
  };
  return {
    url,
    port: Number(new URL(url).port || 6379),
    stop: async () => {},
    kill: unsupported,
    restart: unsupported,
    pause: notOurs,
    resume: notOurs,
  };
}
