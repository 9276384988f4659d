#!/usr/bin/env node
/**
 * The `tollgate` command (package.json `bin`, so `npx tollgate`): the compiled CLI when dist/ has it
 * (the Docker image, any checkout after `npm run build` or `npm start`), else src/cli.ts through tsx, so
 * the CLI works right after `npm ci`. Plain JavaScript: it must run before anything is built.
 */
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli.js', import.meta.url);
const cli = existsSync(built) ? await import(built.href) : await fromSource();
process.exitCode = await cli.run(process.argv.slice(2));

/** src/cli.ts, compiled on the fly by tsx (a dev dependency: absent from a production install). */
async function fromSource() {
  let tsImport;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    console.error('tollgate: dist/ is not built and tsx is not installed; run `npm ci` and `npm run build` first');
    process.exit(1);
  }
  return tsImport('../src/cli.ts', import.meta.url);
}
