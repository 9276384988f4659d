/**
 * A throwaway Redis for the bench (BENCH_REDIS, run.ts): `redis-server` on a free loopback port, no
 * persistence, a child of the bench like every target, so it is counted alone (no other client's
 * commands in commandstats) and never outlives the run (processes.ts kills every child on exit).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { freePort } from './common.js';
import { children } from './processes.js';

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

/** Starts redis-server and resolves with its URL and pid once it accepts connections (10 s at most). */
export async function startRedis(): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '1000'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code})`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid! };
}
