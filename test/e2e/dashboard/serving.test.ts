// How the gateway serves the dashboard's files: only with an admin token configured (an OpenAI-shaped
// 404 otherwise), from a fixed list (nothing else of the file system), with content types, a strong
// ETag answered by 304, gzip when asked, a strict CSP; and every URL in the pages relative, so they work
// behind a proxy.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import { ADMIN_TOKEN, http } from '../../helpers/admin-http.js';
import { startGateway } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';

const mock = await startMockUpstream();
t.teardown(() => mock.close());

const DASHBOARD = new URL('../../../dashboard/', import.meta.url);
const UPLOT = createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js');
const unknownUrl = { error: { message: String, type: 'invalid_request_error', param: null, code: 'unknown_url' } };

t.test('without an admin token there is no dashboard: an OpenAI-shaped 404', async (t) => {
  const gw = await startGateway({ primary: mock, configure: (raw) => (raw.admin = { token: '' }) });
  t.teardown(() => gw.close());
  for (const path of ['/dashboard', '/dashboard/', '/dashboard/index.html', '/dashboard/app.js']) {
    const res = await http(`${gw.url}${path}`);
    t.equal(res.status, 404, `${path}: 404`);
    t.match(res.body, unknownUrl, `${path}: OpenAI-shaped`);
  }
});

t.test('with an admin token: the pages, their modules and uPlot, with headers for caching and safety', async (t) => {
  const gw = await startGateway({ primary: mock, configure: (raw) => (raw.admin = { token: ADMIN_TOKEN }) });
  t.teardown(() => gw.close());

  const bare = await fetch(`${gw.url}/dashboard`, { redirect: 'manual' });
  t.equal(bare.status, 308, '/dashboard redirects');
  t.equal(bare.headers.get('location'), 'dashboard/', 'to the folder, by a relative URL (keeps a proxy\'s prefix)');

  const index = await http(`${gw.url}/dashboard/`);
  t.equal(index.status, 200, '/dashboard/: 200, without any credential');
  t.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(index.text, readFileSync(new URL('index.html', DASHBOARD), 'utf8'), 'index.html as it is in the repository');
  t.equal(index.headers.get('cache-control'), 'no-cache', 'revalidated on every load (file names carry no version)');
  t.match(index.headers.get('content-security-policy'), /default-src 'none'.*script-src 'self'.*frame-ancestors 'none'/);
  t.equal(index.headers.get('x-content-type-options'), 'nosniff');
  t.equal(index.headers.get('referrer-policy'), 'no-referrer');

  const types: Record<string, string> = {
    'app.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'favicon.svg': 'image/svg+xml',
    'vendor/uPlot.esm.js': 'text/javascript; charset=utf-8',
    'vendor/uPlot.min.css': 'text/css; charset=utf-8',
  };
  for (const [path, type] of Object.entries(types)) {
    const res = await http(`${gw.url}/dashboard/${path}`);
    t.equal(res.status, 200, `${path}: 200`);
    t.equal(res.headers.get('content-type'), type, `${path}: ${type}`);
  }
  const uplot = await http(`${gw.url}/dashboard/vendor/uPlot.esm.js`, { headers: { 'accept-encoding': 'identity' } });
  t.equal(uplot.text, readFileSync(UPLOT, 'utf8'), 'uPlot is the ES module installed in node_modules');
  t.equal(uplot.headers.get('content-encoding'), null, 'not compressed when the client does not accept gzip');
  t.equal(uplot.headers.get('vary'), 'accept-encoding');

  const zipped = await fetch(`${gw.url}/dashboard/vendor/uPlot.esm.js`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(zipped.headers.get('content-encoding'), 'gzip', 'gzipped when asked');
  t.equal(await zipped.text(), uplot.text, 'the same bytes once decoded');
  const refused = await fetch(`${gw.url}/dashboard/app.js`, { headers: { 'accept-encoding': 'gzip;q=0' } });
  t.equal(refused.headers.get('content-encoding'), null, 'gzip;q=0 is a refusal');
  await refused.arrayBuffer();

  const etag = index.headers.get('etag');
  t.match(etag, /^"[\w-]+"$/, 'a strong ETag');
  const again = await http(`${gw.url}/dashboard/`, { headers: { 'if-none-match': etag! } });
  t.equal(again.status, 304, 'If-None-Match with it: 304');
  t.equal(again.text, '', 'without a body');

  const head = await fetch(`${gw.url}/dashboard/app.js`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD works');
});

t.test('only the listed files: anything else under /dashboard/ is an OpenAI-shaped 404', async (t) => {
  const gw = await startGateway({ primary: mock, configure: (raw) => (raw.admin = { token: ADMIN_TOKEN }) });
  t.teardown(() => gw.close());
  const paths = [
    '/dashboard/missing.js',
    '/dashboard/%2e%2e/package.json',
    '/dashboard/..%2fpackage.json',
    '/dashboard/vendor/%2e%2e%2f%2e%2e%2fpackage.json',
    '/dashboard/vendor/uPlot.cjs.js',
    '/dashboard//etc/passwd',
  ];
  for (const path of paths) {
    const res = await http(`${gw.url}${path}`);
    t.equal(res.status, 404, `${path}: 404`);
    t.match(res.body, unknownUrl, `${path}: OpenAI-shaped`);
  }
});

t.test('every URL the pages use is relative: they work under any path a proxy gives them', async (t) => {
  const html = readFileSync(new URL('index.html', DASHBOARD), 'utf8');
  const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
  t.ok(urls.length > 3, 'index.html links its files');
  for (const url of urls) t.notMatch(url, /^(?:\/|[a-z]+:)/i, `index.html: ${url} is relative`);
  for (const file of readdirSync(DASHBOARD).filter((name) => name.endsWith('.js'))) {
    const source = readFileSync(new URL(file, DASHBOARD), 'utf8');
    for (const [, from] of source.matchAll(/^import .* from '([^']+)';$/gm)) {
      t.match(from, /^\.\//, `${file}: import ${from} is relative`);
    }
    t.notMatch(source, /['"`]\/(?:admin|dashboard)\b/, `${file}: no absolute path to the gateway`);
  }
});
