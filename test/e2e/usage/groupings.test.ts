// GET /admin/usage's hourly and team groupings, and the key's name and team on its rows, end to end
// on each store: keys of two teams (and keys without one) send traffic with the SDK through a real
// gateway; the hourly rows add up to exactly the daily ones, and JSON and CSV name every key.
import t, { type Test } from 'tap';
import {
  ADMIN_TOKEN, adminApi, flushUsage, sumRows, uniquePrefix, utcDay, type UsageRowJson,
} from '../../helpers/admin-http.js';
import { ALIAS, startGateway, type Gateway, type RawConfig } from '../../helpers/gateway.js';
import { startMockUpstream } from '../../helpers/mock-upstream.js';
import { startRedis } from '../../helpers/redis.js';

const mock = await startMockUpstream();
const redis = await startRedis();
t.teardown(async () => {
  await mock.close();
  await redis.stop();
});

/** A row of GET /admin/usage: grouped by key, it names the key. */
type Row = UsageRowJson & { keyName?: string | null };
const byFirst = (a: unknown[], b: unknown[]) => (String(a[0]) < String(b[0]) ? -1 : 1);

type Configure = (raw: RawConfig) => void;
/** Each store, as a `configure` of a store of its own (Redis: a fresh key prefix) for every call. */
const STORES: [string, () => Configure][] = [
  ['memory', () => (raw) => (raw.admin = { token: ADMIN_TOKEN })],
  [
    'redis',
    () => {
      const keyPrefix = uniquePrefix('groupings');
      return (raw) => Object.assign(raw, { admin: { token: ADMIN_TOKEN }, redis: { url: redis.url, keyPrefix } });
    },
  ],
];

/** Calls per key: alice and bob in team red, carol without a team, plus the gateway's static key (no team). */
const CALLS = { alice: 3, bob: 2, carol: 1, test: 1 } as const;
type Who = keyof typeof CALLS;

async function withTraffic(t: Test, configure: Configure) {
  const gw = await startGateway({ primary: mock, configure });
  t.teardown(() => gw.close());
  const admin = adminApi(gw.url);
  const created = {
    alice: await admin.createKey({ name: 'alice', tier: 'tier-1', team: 'red' }),
    bob: await admin.createKey({ name: 'bob, "the builder"', tier: 'tier-1', team: 'red' }),
    carol: await admin.createKey({ name: 'carol', tier: 'tier-1' }),
  };
  const plaintext = (who: Who) => (who === 'test' ? gw.key : created[who].key);
  for (const [who, calls] of Object.entries(CALLS) as [Who, number][]) {
    const client = gw.client(plaintext(who));
    for (let i = 0; i < calls; i++) {
      if (i % 2) await client.responses.create({ model: ALIAS, input: 'hi' });
      else await client.chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'hi' }] });
    }
  }
  await flushUsage(gw);
  const ids = { ...Object.fromEntries(Object.entries(created).map(([who, key]) => [who, key.id])), test: staticId(gw) };
  return { gw, admin, ids: ids as Record<Who, string> };
}

const staticId = (gw: Gateway) => gw.app.keys.staticKeys.find((key) => key.name === 'test')!.id;

for (const [store, ownStore] of STORES) {
  t.test(`${store}: groupBy=hour sums to groupBy=day, key by key`, async (t) => {
    const { admin } = await withTraffic(t, ownStore());
    for (const extra of ['', ',key', ',model', ',key,model', ',team']) {
      const daily = await admin.usage({ groupBy: `day${extra}` });
      const hourly = await admin.usage({ groupBy: `hour${extra}` });
      t.ok(hourly.every((row) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/.test(row.hour!) && !('day' in row)), 'hour rows');
      const perDay = new Map<string, UsageRowJson[]>();
      for (const row of hourly) {
        const id = JSON.stringify([row.hour!.slice(0, 10), row.keyId, row.team, row.model]);
        perDay.set(id, [...(perDay.get(id) ?? []), row]);
      }
      const summed = [...perDay.values()].map((rows) => {
        const { hour, keyId, keyName, team, model } = rows[0] as Row;
        const dims = { keyId, keyName, team, model };
        const counters = sumRows(rows);
        const present = Object.fromEntries(Object.entries(dims).filter(([, value]) => value !== undefined));
        return { day: hour!.slice(0, 10), ...present, ...counters, costUsd: Math.round(counters.costUsd * 1e9) / 1e9 };
      });
      t.same(summed, daily, `groupBy=hour${extra} summed per day equals groupBy=day${extra}`);
    }
    const total = (await admin.usage())[0]!;
    t.equal(total.requests, 7, 'seven calls in all');
  });

  t.test(`${store}: groupBy=team, and keyName and team on rows grouped by key`, async (t) => {
    const { admin, ids } = await withTraffic(t, ownStore());
    t.same(
      (await admin.usage({ groupBy: 'team' })).map((row) => [row.team, row.requests]),
      [[null, CALLS.carol + CALLS.test], ['red', CALLS.alice + CALLS.bob]],
      'one row per team, keys without a team under null (first)',
    );
    const byKey = (await admin.usage({ groupBy: 'key,model' })) as Row[];
    const expected = [
      [ids.alice, 'alice', 'red'],
      [ids.bob, 'bob, "the builder"', 'red'],
      [ids.carol, 'carol', null],
      [ids.test, 'test', null],
    ].sort(byFirst);
    t.same(byKey.map((row) => [row.keyId, row.keyName, row.team]), expected, 'each key with its name and team');
    t.same(
      Object.keys(byKey[0]!).slice(0, 4),
      ['keyId', 'keyName', 'team', 'model'],
      'members in column order: the name and team beside the id',
    );
    const red = (await admin.usage({ team: 'red', groupBy: 'team,key' })) as Row[];
    t.same(
      red.map((row) => [row.keyId, row.team, row.keyName, row.requests]),
      [
        [ids.alice, 'red', 'alice', CALLS.alice],
        [ids.bob, 'red', 'bob, "the builder"', CALLS.bob],
      ].sort(byFirst),
      'a team filter with team and key grouping',
    );
  });

  t.test(`${store}: CSV columns`, async (t) => {
    const { admin, ids } = await withTraffic(t, ownStore());
    const csv = async (query: string) => {
      const res = await admin.call('GET', `/usage?from=${utcDay(-1)}&to=${utcDay(1)}&format=csv&${query}`);
      t.equal(res.status, 200, `${query}: 200`);
      return res.text.trimEnd().split('\r\n');
    };
    const counters = 'requests,promptTokens,cachedTokens,completionTokens,reasoningTokens,costUsd,estimatedRequests';
    const byKey = await csv('groupBy=model,key');
    t.equal(byKey[0], `keyId,keyName,team,model,${counters}`, 'grouped by key: keyId, keyName, team, then model');
    t.ok(byKey.some((line) => line.startsWith(`${ids.carol},carol,,${ALIAS},1,`)), "carol's team is empty");
    t.ok(byKey.some((line) => line.startsWith(`${ids.bob},"bob, ""the builder""",red,${ALIAS},2,`)), 'a name quoted');
    const byHourTeam = await csv('groupBy=team,hour');
    t.equal(byHourTeam[0], `hour,team,${counters}`, 'grouped by hour and team: hour, team');
    t.ok(byHourTeam.slice(1).every((line) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z,(red)?,\d/.test(line)), 'its rows');
    t.equal((await csv('groupBy=model'))[0], `model,${counters}`, 'grouped by model only: unchanged');
  });

  t.test(`${store}: groupBy hour and day together, or hours beyond their retention, are a 400`, async (t) => {
    const gw = await startGateway({ primary: mock, configure: ownStore() });
    t.teardown(() => gw.close());
    const admin = adminApi(gw.url);
    const both = await admin.call('GET', '/usage?groupBy=hour,day');
    t.equal(both.status, 400, 'hour and day: 400');
    t.match(both.body, { error: { param: 'groupBy', message: /hour and day/ } }, 'naming groupBy');
    const fourDays = await admin.call('GET', `/usage?from=${utcDay(-3)}&to=${utcDay()}&groupBy=hour`);
    t.equal(fourDays.status, 400, 'four days of hours with the default 3-day hourly retention: 400');
    t.match(fourDays.body, { error: { param: 'from', message: /3-day hourly retention/ } }, 'saying why');
    const threeDays = await admin.call('GET', `/usage?from=${utcDay(-2)}&to=${utcDay()}&groupBy=hour`);
    t.equal(threeDays.status, 200, 'three days: 200');
    const byDefault = await admin.call('GET', '/usage?groupBy=hour');
    t.equal(byDefault.status, 200, 'without from and to, grouped by hour: today (not the month), 200');
    const daily = await admin.call('GET', `/usage?from=${utcDay(-3)}&to=${utcDay()}&groupBy=day`);
    t.equal(daily.status, 200, 'four days by day: 200');
  });
}

t.test('redis: a key no longer known (a static key gone from the config): its id, null name and team', async (t) => {
  const configure = STORES[1]![1]();
  const { ids } = await withTraffic(t, configure);
  const other = await startGateway({ primary: mock, configure }); // another static key: `test` of the first is unknown
  t.teardown(() => other.close());
  const rows = (await adminApi(other.url).usage({ groupBy: 'key' })) as Row[];
  t.match(
    rows.find((row) => row.keyId === ids.test),
    { keyId: ids.test, keyName: null, team: null, requests: CALLS.test },
    'the id, with null name and team',
  );
  const csv = await adminApi(other.url).call('GET', `/usage?from=${utcDay(-1)}&to=${utcDay(1)}&groupBy=key&format=csv`);
  t.ok(csv.text.split('\r\n').some((line) => line.startsWith(`${ids.test},,,${CALLS.test},`)), 'empty in CSV');
});
