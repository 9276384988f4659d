// The dashboard in a real browser: Debian's chromium driven by playwright-core, against a real gateway
// on Redis with the mock upstream. A wrong token stays on sign-in; the right one signs in and lives in
// sessionStorage only; a key created on the Keys page is listed and its plaintext shown once; traffic
// sent with it through the openai SDK shows in the plots exactly as GET /admin/usage has it (the plots
// carry their numbers in `data-points`), and so do the top lists and the refusal shares of
// GET /admin/stats; the Usage page's table, plot and CSV are the API's rows; an edit reaches the key;
// a revoke (after its confirmation) makes the gateway refuse the key.
//
// TOLLGATE_SCREENSHOTS=1 also writes docs/screenshots/{overview,keys,usage}.png.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { AuthenticationError } from 'openai';
import { chromium, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  ADMIN_TOKEN,
  adminApi,
  adminOnRedis,
  flushUsage,
  upstreamAndRedis,
  type UsageRowJson,
} from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type Gateway, type RawConfig } from '../../helpers/gateway.js';
import { costUsd } from '../../../src/usage/cost.js';
import { USAGE_ROW_COUNTERS } from '../../../src/usage/usage-store.js';

t.setTimeout(180_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
const SCREENSHOTS = process.env.TOLLGATE_SCREENSHOTS === '1'
  ? new URL('../../../docs/screenshots/', import.meta.url)
  : undefined;

/** Two more aliases on the mock, priced like their namesakes, so the model list has something to rank. */
const EXTRA_MODELS = {
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
};
type Pricing = { input: number; cachedInput: number; output: number };
const PRICING: Record<string, Pricing> = { [ALIAS]: { input: 0.1, cachedInput: 0.025, output: 0.4 }, ...EXTRA_MODELS };

/** How far back seedHistory() writes usage; the Usage page's widest range. */
const SEEDED_DAYS = 30;

/** The numbers each period's three plots draw, by field. */
const PLOTTED = ['requests', 'promptTokens', 'cachedTokens', 'completionTokens', 'costUsd'] as const;

const { mock, redis, prefix } = await upstreamAndRedis(t, 'dashboard');
const gw = await startGateway({
  primary: mock,
  configure: (raw: RawConfig) => {
    adminOnRedis(redis.url, prefix)(raw);
    for (const [alias, pricing] of Object.entries(EXTRA_MODELS)) {
      raw.models[alias] = { routes: [{ provider: 'primary', model: alias }], pricing };
    }
  },
});
t.teardown(() => gw.close());
const admin = adminApi(gw.url);

const browser = await chromium.launch({ executablePath: CHROMIUM });
t.teardown(() => browser.close());
const page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
page.setDefaultTimeout(15_000); // a condition never met fails well within the file's time
const pageErrors: string[] = [];
page.on('pageerror', (err) => pageErrors.push(err.message));

await seedHistory(gw);
const dashboardUrl = `${gw.url}/dashboard/`;

t.test('a wrong admin token is refused and the page stays on sign-in', async (t) => {
  await page.goto(`${gw.url}/dashboard`);
  t.equal(page.url(), dashboardUrl, '/dashboard redirects to /dashboard/');
  await page.fill('#token', 'not-the-admin-token');
  await page.click('#sign-in-form button[type="submit"]');
  const error = page.locator('#sign-in-error');
  await error.waitFor({ state: 'visible' });
  t.match(await error.textContent(), /token was refused/, 'the refusal says so');
  t.ok(await page.isVisible('#sign-in'), 'still on sign-in');
  t.notOk(await page.isVisible('#topbar'), 'no navigation');
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'nothing kept');
  t.equal(page.url(), dashboardUrl, 'the URL carries nothing');
});

t.test('the admin token signs in, and is kept in sessionStorage only', async (t) => {
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#sign-in-form button[type="submit"]');
  await page.waitForSelector('.overview[data-loaded]');
  t.notOk(await page.isVisible('#sign-in'), 'sign-in is gone');
  t.equal(await page.evaluate(() => Object.values(sessionStorage).join()), ADMIN_TOKEN, 'in sessionStorage');
  t.equal(await page.evaluate(() => localStorage.length), 0, 'not in localStorage');
  t.notOk(page.url().includes(ADMIN_TOKEN), 'not in the URL');
});

let created: { id: string; key: string };

t.test('Keys: a key created in the form is shown once with a copy button, and listed', async (t) => {
  await page.click('nav a[data-page="keys"]');
  await page.waitForSelector('.keys[data-loaded]');
  await page.click('[data-action="new"]');
  const dialog = page.locator('dialog.key-dialog');
  await dialog.locator('[name="name"]').fill('dash-alice');
  await dialog.locator('[name="tier"]').fill('tier-1');
  await dialog.locator('[name="team"]').fill('web');
  await dialog.locator('[name="budgetUsd"]').fill('5');
  await dialog.locator('button[type="submit"]').click();
  await page.waitForSelector('#created-key:not([hidden])');
  const key = await page.inputValue('#created-key-value');
  t.match(key, /^sk-tg-[0-9A-Za-z]{43}$/, 'the plaintext key');
  t.ok(await page.isVisible('#created-key [data-action="copy"]'), 'with a copy button');
  const id = (await page.getAttribute('#created-key', 'data-key-id'))!;
  created = { id, key };
  const row = page.locator(`tr[data-key-id="${id}"]`);
  await row.waitFor();
  const cells = (await row.locator('td').allTextContents()).slice(0, 8);
  t.match(cells, ['dash-alice' + id, 'web', 'tier-1', 'all', '$0.00', /\$5\.00 of \$5\.00/, 'never', 'active'], 'listed');
  const record = (await admin.call('GET', `/keys/${id}`)).body;
  t.match(record, { name: 'dash-alice', tier: 'tier-1', team: 'web', budgetUsd: 5 }, 'as the admin API has it');

  await page.click('#created-key [data-action="dismiss"]');
  t.ok(await page.isHidden('#created-key'), 'Done hides it');
  t.notOk((await page.content()).includes(key), 'and the plaintext is gone from the page');
});

t.test('Overview: after SDK traffic, the daily plots and the month\'s totals are /admin/usage\'s', async (t) => {
  const client = gw.client(created.key);
  const messages = [{ role: 'user' as const, content: 'hi' }];
  for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: ALIAS, messages });
  for await (const _chunk of await client.chat.completions.create({ model: ALIAS, stream: true, messages })) {
    // drained: the stream's usage is recorded when it ends
  }
  await sendRefusedAndFailing(gw);
  await flushUsage(gw);

  await page.click('nav a[data-page="overview"]');
  await page.reload(); // drawn before the traffic
  await page.waitForSelector('.overview[data-loaded]');
  const daily = await plotted(page, '#daily');
  t.equal(daily.labels[0]!.slice(8), '01', 'the month from its first day');
  t.equal(daily.labels.at(-1), new Date().toISOString().slice(0, 10), 'to today');
  const rows = await usage({ groupBy: 'day', from: daily.labels[0]!, to: daily.labels.at(-1)! });
  samePoints(t, daily, rows, 'day');
  const monthRequests = rows.reduce((sum, row) => sum + row.requests, 0);
  t.equal(await page.textContent('.tile:first-child strong'), monthRequests.toLocaleString('en-US'),
    'the month\'s requests, with thousands separators');
  t.ok(monthRequests >= 4, 'the SDK traffic is among them');
});

t.test('Overview: the hourly plots are the last 48 hours of /admin/usage?groupBy=hour', async (t) => {
  const hourly = await plotted(page, '#hourly');
  const [first, last] = [hourly.labels[0]!, hourly.labels.at(-1)!];
  t.equal(hourly.labels.length, 48, '48 points');
  t.equal(Date.parse(last) - Date.parse(first), 47 * 3_600_000, 'consecutive hours');
  const rows = await usage({ groupBy: 'hour', from: first.slice(0, 10), to: last.slice(0, 10) });
  const inWindow = rows.filter((row) => row.hour! >= first && row.hour! <= last);
  samePoints(t, hourly, inWindow, 'hour');
  t.ok(inWindow.some((row) => row.hour === last && row.requests >= 4), 'the current hour holds the SDK traffic');
});

t.test('Overview: the top keys (by name), teams and models by cost are /admin/usage\'s', async (t) => {
  const month = monthToDate();
  const top = async (groupBy: string, label: (row: Row) => unknown) => {
    const rows = await usage({ groupBy, ...month });
    const biggest = rows.sort((a, b) => b.costUsd - a.costUsd).slice(0, 8);
    return biggest.map((row) => ({ label: label(row), costUsd: row.costUsd }));
  };
  const keyList = (await admin.call('GET', '/keys')).body?.data as { id: string; name: string }[];
  const names = new Map(keyList.map((k) => [k.id, k.name]));
  t.same(await listed(page, '#top-models'), await top('model', (row) => row.model), 'models');
  t.same(await listed(page, '#top-keys'), await top('key', (row) => names.get(row.keyId!)), 'keys, by name');
  t.same(await listed(page, '#top-teams'), await top('team', (row) => row.team ?? '(no team)'), 'teams');
});

t.test('Overview: the shares of 429s by reason and of upstream failures by provider are /admin/stats\'', async (t) => {
  const res = await admin.call('GET', '/stats');
  t.equal(res.status, 200, 'GET /admin/stats');
  const stats = res.body as unknown as Stats;
  const refusals = Object.entries(stats.refusals).filter(([, n]) => n > 0).map(([label, count]) => ({ label, count }));
  t.same(sortByLabel(await listed(page, '#refusals')), sortByLabel(refusals), '429s by reason');
  t.match(refusals.map((r) => r.label).sort(), ['budget', 'rpm'], 'the rpm and budget refusals sent');
  const failures = new Map<string, number>();
  for (const f of stats.upstreamFailures) failures.set(f.provider, (failures.get(f.provider) ?? 0) + f.count);
  const byProvider = [...failures].map(([label, count]) => ({ label, count }));
  t.same(sortByLabel(await listed(page, '#failures')), sortByLabel(byProvider), 'upstream failures by provider');
  t.ok(failures.get('primary'), 'the failure sent is counted for its provider');
  await screenshot(page, 'overview');
});

t.test('Overview on a gateway without /admin/stats or groupBy=hour: those parts say so, the rest shows', async (t) => {
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const older = await context.newPage();
  // What an older gateway answers: 404 for the unknown endpoint, 400 for the unknown grouping.
  await older.route('**/admin/stats', (route) => route.fulfill({ status: 404, json: openAiError('Unknown URL') }));
  await older.route(/\/admin\/usage\?.*groupBy=(hour|team)/, (route) =>
    route.fulfill({ status: 400, json: openAiError('Invalid request: groupBy') }));
  await older.goto(dashboardUrl);
  await older.fill('#token', ADMIN_TOKEN);
  await older.click('#sign-in-form button[type="submit"]');
  await older.waitForSelector('.overview[data-loaded]');
  for (const part of ['#hourly', '#top-teams', '#stats']) {
    t.match(await older.textContent(`${part} .unavailable`), /is not available: (Unknown URL|Invalid request: groupBy)/, `${part}: says so`);
  }
  t.equal(await older.locator('#daily figure.chart').count(), 3, 'the daily plots are drawn');
  t.equal(await older.locator('#top-models li').count(), 3, 'the top models are listed');
});

t.test('Usage: filtered by the new key, the table, the plot and the CSV are the API\'s rows', async (t) => {
  await page.click('nav a[data-page="keys"]');
  await page.waitForSelector('.keys[data-loaded]');
  await page.click(`tr[data-key-id="${created.id}"] a[href^="#usage"]`);
  await page.waitForSelector('.usage[data-loaded="true"]');
  t.equal(await page.inputValue('#usage-filters [name="keyId"]'), created.id, 'the key is chosen');
  t.match(page.url(), `#usage?keyId=${created.id}`, 'a view that can be bookmarked');
  await sameUsageView(t, { keyId: created.id });
});

t.test('Usage: by team, then every key over 30 days', async (t) => {
  await showUsage({ keyId: '', team: 'data' });
  await sameUsageView(t, { team: 'data' });
  const monthAgo = new Date(Date.now() - SEEDED_DAYS * 86_400_000).toISOString().slice(0, 10);
  await showUsage({ team: '', from: monthAgo });
  await sameUsageView(t, {});
  await screenshot(page, 'usage');
});

t.test('Usage: per hour, the rows of /admin/usage?groupBy=hour', async (t) => {
  const today = new Date().toISOString().slice(0, 10);
  await showUsage({ keyId: created.id, per: 'hour', from: today, to: today }); // hourly cells are kept a few days
  await sameUsageView(t, { keyId: created.id }, 'hour');
});

t.test('Keys: edit tier, team, models, budget and expiry', async (t) => {
  await page.click('nav a[data-page="keys"]');
  await page.waitForSelector('.keys[data-loaded]');
  await page.click(`tr[data-key-id="${created.id}"] [data-action="edit"]`);
  const dialog = page.locator('dialog.key-dialog');
  t.equal(await dialog.locator('[name="team"]').inputValue(), 'web', 'the form shows the key as it is');
  await dialog.locator('[name="tier"]').fill('tier-5');
  await dialog.locator('[name="team"]').fill('platform');
  await dialog.locator('[name="models"]').fill(`${ALIAS}, gpt-4.1-mini`);
  await dialog.locator('[name="budgetUsd"]').fill('');
  await dialog.locator('[name="expiresAt"]').fill('2099-01-31');
  await dialog.locator('button[type="submit"]').click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator(`tr[data-key-id="${created.id}"] td:nth-child(2)`, { hasText: 'platform' }).waitFor();
  const record = (await admin.call('GET', `/keys/${created.id}`)).body;
  const expiresAt = '2099-01-31T00:00:00.000Z';
  const models = [ALIAS, 'gpt-4.1-mini'];
  t.match(record, { tier: 'tier-5', team: 'platform', models, expiresAt }, 'every field edited');
  t.equal(record?.budgetUsd, undefined, 'the emptied budget is cleared');

  await page.click(`tr[data-key-id="${created.id}"] [data-action="edit"]`);
  await dialog.locator('[name="tier"]').fill('no-such-tier');
  await dialog.locator('button[type="submit"]').click();
  const error = dialog.locator('[data-slot="error"]');
  await error.waitFor({ state: 'visible' });
  t.match(await error.textContent(), /unknown tier "no-such-tier"; configured: free, tier-1, tier-5/, 'a refused edit says why');
  await dialog.locator('[data-action="cancel"]').click();
  t.match((await admin.call('GET', `/keys/${created.id}`)).body, { tier: 'tier-5' }, 'and changes nothing');
  await screenshot(page, 'keys');
});

t.test('Keys: revoke asks first; once confirmed, the gateway refuses the key', async (t) => {
  const row = `tr[data-key-id="${created.id}"]`;
  await page.click(`${row} [data-action="revoke"]`);
  const dialog = page.locator('dialog.revoke-dialog');
  t.match(await dialog.locator('h2').textContent(), 'Revoke dash-alice?', 'the confirmation names the key');
  await dialog.locator('[data-action="cancel"]').click();
  t.match((await admin.call('GET', `/keys/${created.id}`)).body, { status: 'active' }, 'cancel keeps the key');

  await page.click(`${row} [data-action="revoke"]`);
  await dialog.locator('[data-action="confirm"]').click();
  await page.locator(`${row} .pill.revoked`).waitFor();
  t.equal(await page.locator(`${row} [data-action]`).count(), 0, 'a revoked key has no actions left');
  const denied = await gw.client(created.key).models.list().then(() => undefined, (err: unknown) => err);
  t.type(denied, AuthenticationError, 'the gateway refuses the revoked key');
  t.match(denied, { status: 401 });
  t.same(pageErrors, [], 'no script error on any page');
});

interface Stats {
  since: string;
  refusals: Record<string, number>;
  upstreamFailures: { provider: string; cause: string; count: number }[];
}

type Point = Record<string, string | number>;

/** A usage row as the admin API gives it, with the grouping columns of groupBy=hour and team. */
type Row = UsageRowJson & { hour?: string; team?: string | null; keyName?: string };
const usage = (params: Record<string, string>) => admin.usage(params) as Promise<Row[]>;

interface Plotted {
  bucket: string;
  labels: string[];
  points: Map<string, Point>;
}

/** The points of the plots in `container`, merged by time bucket, and the buckets in order. */
async function plotted(page: Page, container: string): Promise<Plotted> {
  const figures = await page.$$eval(`${container} figure.chart`, (elements) =>
    elements.map((e) => {
      const { bucket, points } = (e as HTMLElement).dataset;
      return { bucket: bucket!, points: JSON.parse(points!) as Point[] };
    }),
  );
  if (figures.length !== 3) throw new Error(`${container}: ${figures.length} plots drawn, not 3`);
  const bucket = figures[0]!.bucket;
  const points = new Map<string, Point>();
  for (const figure of figures) {
    for (const point of figure.points) {
      const label = point[bucket] as string;
      points.set(label, { ...points.get(label), ...point });
    }
  }
  return { bucket, labels: [...points.keys()], points };
}

/** Every row is plotted with its numbers; every other bucket is plotted as zero. */
function samePoints(t: Test, plot: { points: Map<string, Point> }, rows: Row[], bucket: 'day' | 'hour'): void {
  const pick = (source: Record<string, unknown>) => Object.fromEntries(PLOTTED.map((f) => [f, source[f]]));
  const zero = Object.fromEntries(PLOTTED.map((f) => [f, 0]));
  const byLabel = new Map(rows.map((row) => [row[bucket]!, row]));
  t.ok(rows.every((row) => plot.points.has(row[bucket]!)), `every ${bucket} row of the API is plotted`);
  const mismatched = [...plot.points].filter(([label, point]) => {
    const row = byLabel.get(label);
    return JSON.stringify(pick(point)) !== JSON.stringify(row ? pick(row as unknown as Record<string, unknown>) : zero);
  });
  const counts = `${plot.points.size} points, ${rows.length} rows`;
  t.same(mismatched, [], `each ${bucket} point is the API's row, or zero without one (${counts})`);
}

/** Sets the Usage page's filters (select or input, by name) and shows the result. */
async function showUsage(filters: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(filters)) {
    const field = page.locator(`#usage-filters [name="${name}"]`);
    if (await field.evaluate((e) => e.tagName === 'SELECT')) await field.selectOption(value);
    else await field.fill(value);
  }
  await page.click('#usage-filters button[type="submit"]');
  await page.waitForSelector('.usage[data-loaded="true"]');
}

/** This UTC month from its first day to today. */
function monthToDate(): { from: string; to: string } {
  const today = new Date().toISOString().slice(0, 10);
  return { from: `${today.slice(0, 8)}01`, to: today };
}

const openAiError = (message: string) => ({
  error: { message, type: 'invalid_request_error', param: null, code: null },
});

/** The `data-points` of a bar list (top lists, shares). */
async function listed(page: Page, container: string): Promise<unknown[]> {
  const list = await page.$(`${container} [data-points]`);
  if (!list) throw new Error(`${container}: no list drawn: ${await page.textContent(container)}`);
  return JSON.parse((await list.getAttribute('data-points'))!);
}

const sortByLabel = (items: unknown[]) =>
  [...(items as { label: string }[])].sort((a, b) => a.label.localeCompare(b.label));

/** The Usage page as it is now shows the API's rows for `filters` and its own dates: table, plot, CSV. */
async function sameUsageView(t: Test, filters: Record<string, string>, bucket: 'day' | 'hour' = 'day'): Promise<void> {
  const from = await page.inputValue('#usage-filters [name="from"]');
  const to = await page.inputValue('#usage-filters [name="to"]');
  const rows = await usage({ ...filters, from, to, groupBy: bucket });
  const label = JSON.stringify(filters);
  t.ok(rows.length > 0, `${label} per ${bucket}: there is usage to show`);
  const firstCells = await page.$$eval('[data-slot="table"] tbody tr td:first-child', (cells) =>
    cells.map((c) => c.textContent));
  const shown = rows.map((row) => (bucket === 'hour' ? row.hour!.slice(0, 16).replace('T', ' ') : row.day!));
  t.same(firstCells, [...shown].sort(), `${label} per ${bucket}: one table row per API row, in time order`);
  samePoints(t, await plotted(page, '#usage-plots'), rows, bucket);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action="csv"]')]);
  const lines = readFileSync((await download.path())!, 'utf8').split('\r\n');
  const header = [bucket, ...USAGE_ROW_COUNTERS]; // the admin API's CSV columns, in its order
  t.same(lines.shift()?.split(','), header, `${label} per ${bucket}: the CSV has the table's columns`);
  t.equal(lines.pop(), '', 'CRLF after the last line');
  const parsed = lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [header[i], i ? Number(v) : v])));
  const sorted = [...rows].sort((a, b) => a[bucket]!.localeCompare(b[bucket]!));
  t.same(parsed, sorted.map((row) => Object.fromEntries(header.map((f) => [f, row[f as keyof Row]]))),
    `${label} per ${bucket}: the CSV is exactly the rows shown`);
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

/** A 429 for rpm (a free-tier key past 3 a minute), one for budget (a key with none), one upstream failure. */
async function sendRefusedAndFailing(gw: Gateway): Promise<void> {
  const ask = (key: string) => gw.client(key).chat.completions
    .create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] })
    .catch(() => undefined); // the refusals are the point
  const trial = await admin.createKey({ name: 'trial', tier: 'free', team: 'sales' });
  for (let i = 0; i < 4; i++) await ask(trial.key);
  await ask((await admin.createKey({ name: 'frozen', tier: 'tier-1', budgetUsd: 0 })).key);
  const flaky = await admin.createKey({ name: 'flaky-client', tier: 'tier-1' });
  mock.behave({ kind: 'error', status: 500 });
  await ask(flaky.key);
  mock.reset();
}

/** A small seeded generator of numbers in [0, 1): the same history on every run. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A month of history for five keys in three teams, written into the gateway's usage store as the proxy
 * writes each request (record(), one event per request), with past times: the plots, lists and
 * screenshots then have days and hours to show. Deterministic (a fixed-seed generator).
 */
async function seedHistory(gw: Gateway): Promise<void> {
  const keys = [
    { name: 'checkout-service', tier: 'tier-5', team: 'web', budgetUsd: 40, model: 'gpt-4.1-mini', scale: 1 },
    { name: 'search-indexer', tier: 'tier-5', team: 'data', budgetUsd: 25, model: ALIAS, scale: 3 },
    { name: 'support-bot', tier: 'tier-1', team: 'support', budgetUsd: 60, model: 'gpt-4.1', scale: 0.4 },
    { name: 'nightly-evals', tier: 'tier-5', team: 'data', model: 'gpt-4.1', scale: 0.3 },
    { name: 'alice-laptop', tier: 'tier-1', model: 'gpt-4.1-mini', scale: 0.2 },
  ];
  const random = mulberry32(42);
  const hour = 3_600_000;
  const now = Math.floor(Date.now() / hour) * hour;
  for (const { model, scale, ...input } of keys) {
    const { id } = await admin.createKey(input);
    // Office hours are busier; every request is some thousands of tokens, a part of them cached.
    for (let at = now - SEEDED_DAYS * 24 * hour; at < now; at += hour) {
      const hourOfDay = new Date(at).getUTCHours();
      const busy = hourOfDay >= 8 && hourOfDay < 19 ? 1 : 0.25;
      const requests = Math.round(random() * 3 * busy * scale + (random() < busy * scale ? 1 : 0));
      for (let i = 0; i < requests; i++) {
        const promptTokens = Math.round(1_500 + random() * 14_000);
        const completionTokens = Math.round(200 + random() * 1_800);
        const usage = {
          promptTokens,
          cachedTokens: Math.round(promptTokens * random() * 0.6),
          completionTokens,
          reasoningTokens: 0,
          totalTokens: promptTokens + completionTokens,
          estimated: false,
        };
        const when = new Date(at + Math.floor(random() * hour));
        gw.app.usage.store.record({ keyId: id, model, at: when, usage, costUsd: costUsd(usage, PRICING[model]!) });
      }
    }
  }
  await flushUsage(gw);
}
