/**
 * Peer gateways measured beside tollgate, installed on demand into bench/.peers/ (git-ignored) with
 * the ordinary npm client, so the repository does not depend on them. Today: Portkey's gateway
 * (`@portkey-ai/gateway`, its Node build `build/start-server.js`), run by portkey-gateway.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Not processes.ts' here(): portkey-gateway.ts imports this file, and processes.ts is the parent's.
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export const PORTKEY_VERSION = process.env.BENCH_PORTKEY_VERSION || '1.15';
export const PORTKEY_ENTRY = here('.peers/node_modules/@portkey-ai/gateway/build/start-server.js');

/** Installs Portkey's gateway if it is not there yet; the reason it is unavailable, or undefined. */
export function ensurePortkey(): string | undefined {
  if (existsSync(PORTKEY_ENTRY)) return undefined;
  const npm = spawnSync(
    'npm',
    ['install', '--prefix', here('.peers'), '--no-audit', '--no-fund', `@portkey-ai/gateway@${PORTKEY_VERSION}`],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000, encoding: 'utf8' },
  );
  if (existsSync(PORTKEY_ENTRY)) return undefined;
  const why = (npm.stderr || String(npm.error)).trim().slice(-300);
  return `npm install @portkey-ai/gateway@${PORTKEY_VERSION} failed: ${why}`;
}
