/**
 * The dashboard's static files, read once into memory: everything in the repository's `dashboard/`
 * folder, and uPlot (the chart library, from node_modules) under `vendor/`. A fixed map from URL path to
 * bytes, so no request path ever reaches the file system. Each file carries its content type, a strong
 * ETag and a gzipped copy (nginx in deploy/ does not compress, and uPlot is 145 kB raw).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface DashboardAsset {
  body: Buffer;
  /** Present when gzip makes the file smaller. */
  gzipped?: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** uPlot's ES module and stylesheet, served as vendor/<name>. */
const VENDOR_FILES = ['uplot/dist/uPlot.esm.js', 'uplot/dist/uPlot.min.css'];

/** Paths relative to /dashboard/ ('index.html', 'vendor/uPlot.esm.js', …) to their assets. */
export function loadDashboardAssets(): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  const folder = join(packageRoot(), 'dashboard');
  // A broken install or image (the folder not copied), said plainly instead of an ENOENT stack.
  if (!existsSync(folder)) throw new Error(`tollgate dashboard: no ${folder} (admin.token is set, so it is served)`);
  for (const name of readdirSync(folder, { recursive: true, encoding: 'utf8' })) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name.split('\\').join('/'), asset(readFileSync(join(folder, name)), type));
  }
  const require = createRequire(import.meta.url);
  for (const file of VENDOR_FILES) {
    const path = require.resolve(file);
    assets.set(`vendor/${file.split('/').at(-1)}`, asset(readFileSync(path), CONTENT_TYPES[extname(path)]!));
  }
  return assets;
}

function asset(body: Buffer, contentType: string): DashboardAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const gzipped = gzipSync(body);
  return { body, contentType, etag, gzipped: gzipped.length < body.length ? gzipped : undefined };
}

/**
 * The folder holding package.json: the repository root whether this module runs from source
 * (src/dashboard/) or compiled (dist/src/dashboard/).
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('tollgate dashboard: no package.json above the running module');
    dir = parent;
  }
  return dir;
}
