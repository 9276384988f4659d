/**
 * The bench's child processes (run.ts, bridge.ts): the mock and every target run in their own
 * `node --import tsx` process, which reports its port (`PORT <n>`, common.ts). Whatever way the bench
 * ends, no child outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** The children still running. */
export const children = new Set<ChildProcess>();

export interface StartOptions {
  env?: Record<string, string>;
  /** Run with `--cpu-prof`; the profile lands in bench/profiles/ when the child exits cleanly. */
  cpuProfile?: boolean;
  /** More node flags (`--expose-gc` for a target with a probe). */
  nodeArgs?: string[];
}

export interface Started {
  child: ChildProcess;
  port: number;
  /** The side channel's port (probe.ts), when the script starts one. */
  probe?: number;
}

/** Starts `bench/<script>` and resolves once it reported its port (30 s at most). */
export function start(
  script: string,
  args: string[],
  { env = {}, cpuProfile = false, nodeArgs = [] }: StartOptions = {},
): Promise<Started> {
  const profile = `${script.replace('.ts', '')}-${Date.now()}.cpuprofile`;
  const prof = cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${here('profiles')}`, `--cpu-prof-name=${profile}`] : [];
  const command = [process.execPath, ...prof, ...nodeArgs, '--import', 'tsx', here(script), ...args];
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not report its port within 30 s`)),
      30_000,
    ).unref();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before reporting its port`));
    });
    let probe: number | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [, name, port] = /^(PORT|PROBE) (\d+)$/.exec(line) ?? [];
      if (name === 'PROBE') probe = Number(port);
      if (name !== 'PORT') return;
      clearTimeout(timer);
      resolve({ child, port: Number(port), ...(probe ? { probe } : {}) });
    });
  });
}

/** SIGTERM (stdin closed too), SIGKILL after 3 s. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

export function stopAll(): Promise<unknown> {
  return Promise.all([...children].map(stop));
}

process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
