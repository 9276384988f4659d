/**
 * A redis-server child that never outlives this process, even one killed with SIGKILL (tap's timeout):
 * each is paired with a watchdog shell blocked reading a pipe from this process; when this process dies
 * the pipe closes and the watchdog kills its redis-server. Shared by the tests (test/helpers/redis.ts,
 * test/helpers/redis-cluster.ts) and the bench (bench/cluster.ts), which must not import from test/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const START_TIMEOUT_MS = 5_000;

export interface LaunchedRedis {
  pid: number;
  /** Sends the signal and waits for the exit (a paused server is resumed first). */
  stop(signal: NodeJS.Signals): Promise<void>;
  signal(signal: NodeJS.Signals): void;
}

/** Starts redis-server on the port (no persistence, loopback only) and resolves once it answers PING. */
export async function launchRedis(port: number, extraArgs: string[] = []): Promise<LaunchedRedis> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
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
  return { pid: server.pid!, stop, signal: (signal) => void server.kill(signal) };
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

/** A loopback port the kernel reports free right now. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

/** Whether the port can be bound on loopback right now. */
export async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) {
    probe.close();
    await once(probe, 'close');
  }
  return bound;
}
