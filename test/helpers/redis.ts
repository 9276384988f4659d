/**
 * A private redis-server for a test file: own port, no persistence, killable and restartable for the
 * fail-open/closed tests, and pausable (SIGSTOP) for the stall tests.
 *
 * With REDIS_URL set (CI with a Redis service), startRedis() uses that server instead: stop() then
 * leaves it running (it is not ours) and kill()/restart() throw. Pass `{ spawn: true }` when a test
 * needs kill()/restart() whatever the environment says.
 *
 * No redis-server outlives the test process, even one killed with SIGKILL (tap's timeout): each is
 * paired with a watchdog shell blocked reading a pipe from this process; when this process dies the
 * pipe closes and the watchdog kills its redis-server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const START_TIMEOUT_MS = 5_000;

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
  let current = await launch(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => current.stop('SIGTERM'),
    kill: () => current.stop('SIGKILL'),
    restart: async () => {
      await current.stop('SIGKILL');
      current = await launch(port);
    },
    pause: () => current.signal('SIGSTOP'),
    resume: () => current.signal('SIGCONT'),
  };
}

interface Launched {
  stop(signal: NodeJS.Signals): Promise<void>;
  signal(signal: NodeJS.Signals): void;
}

async function launch(port: number): Promise<Launched> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  const watchdog = spawn('sh', ['-c', 'read _; kill -9 "$1" 2>/dev/null', 'watchdog', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither may keep the event loop alive: a test that forgets stop() still ends, and the watchdog cleans up.
  server.unref();
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  server.once('exit', () => watchdog.kill('SIGKILL')); // its pid may be reused: nothing left to guard
  const stop = async (signal: NodeJS.Signals) => {
    watchdog.kill('SIGKILL');
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.ref(); // keep the loop alive until the exit event arrives
    server.kill('SIGCONT'); // a paused server would hold SIGTERM until resumed
    server.kill(signal);
    await once(server, 'exit');
  };
  try {
    await waitForPing(port, server);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { stop, signal: (signal) => void server.kill(signal) };
}

async function waitForPing(port: number, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let spawnError: unknown;
  server.once('error', (err) => (spawnError = err));
  while (Date.now() < deadline) {
    if (spawnError !== undefined) throw spawnError;
    if (server.exitCode !== null) throw new Error(`redis-server exited with ${server.exitCode} (port ${port} taken?)`);
    if (await ping(port)) return;
    await sleep(20);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
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
