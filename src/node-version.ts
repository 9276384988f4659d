/**
 * The Node.js version check, imported FIRST by every entry point (src/server.ts, src/cli.ts). ES
 * modules run their imports in order, so this runs, and exits, before undici or fastify are loaded:
 * on Node 20 they fail with errors that say nothing about the version (undici: "TypeError: Cannot
 * read properties of undefined (reading 'bind')"). Keep this file free of imports beyond node:*.
 */
export const MIN_NODE_MAJOR = 22;

/** Why this Node version cannot run tollgate, or undefined when it can. `version` as in process.versions.node. */
export function nodeVersionProblem(version: string, minMajor = MIN_NODE_MAJOR): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= minMajor) return undefined;
  return (
    `tollgate needs Node.js ${minMajor} or newer; this is v${version.replace(/^v/, '')} (${process.execPath}).\n` +
    `Install Node.js ${minMajor}+ (nvm install reads .nvmrc), or put one first on PATH from the npm registry ` +
    'with: . scripts/node22.sh'
  );
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  console.error(problem);
  process.exit(1);
}
