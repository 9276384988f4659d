/**
 * The repository as a clone looks right after `npm ci`: its sources, configs and bin/ copied to a temp
 * directory, `node_modules` a symlink to the repository's, and no dist/. For tests of the npm scripts
 * and the `tollgate` bin, which build, watch and edit files there, never in the repository itself.
 *
 *   const dir = freshCheckout(t);
 *   const child = spawn('npm', ['start'], { cwd: dir, env: childEnv({ PORT: '0' }) });
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COPIED = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'bin',
  'src',
  'plugins',
  'config',
];

/** A fresh checkout, removed when the test ends; `nodeModules: false` leaves node_modules out altogether. */
export function freshCheckout(t: Test, options: { nodeModules?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-checkout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const entry of COPIED) cpSync(join(REPO, entry), join(dir, entry), { recursive: true });
  if (options.nodeModules !== false) symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/**
 * The environment a child starts from: this process's, minus what the test runner and an enclosing `npm
 * test` inject (tsx's loader in NODE_OPTIONS, tap's variables, npm's lifecycle settings), plus `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(TAP|_TAP|NODE_OPTIONS$|NODE_V8_COVERAGE$|NODE_ENV$|npm_|INIT_CWD$)/i.test(name)) {
      continue;
    }
    env[name] = value;
  }
  return { ...env, ...extra };
}
