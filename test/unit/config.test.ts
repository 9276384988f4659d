// The config contract: ${VAR} / ${VAR:-default} from the environment, PORT/HOST overrides,
// defaults filled in, and a bad file rejected with every offending path — by the loader and by the
// server process, which exits non-zero.
/* eslint-disable no-template-curly-in-string -- the placeholders are what is under test */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.js';

const minimal = {
  providers: { openai: { baseUrl: 'https://api.openai.com/v1', apiKey: '${OPENAI_API_KEY}' } },
  models: { 'gpt-4.1-nano': { routes: [{ provider: 'openai', model: 'gpt-4.1-nano' }] } },
  tiers: { free: { rpm: 3 } },
};

function writeConfig(text: string, name = 'tollgate.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tollgate-config-')), name);
  writeFileSync(path, text);
  return path;
}

t.test('environment placeholders, defaults and overrides', async (t) => {
  const raw = { ...minimal, redis: { url: '${REDIS_URL:-redis://fallback:6379}' }, admin: { token: '${ADMIN:-}' } };
  const config = parseConfig(raw, { OPENAI_API_KEY: 'sk-from-env', PORT: '9090', HOST: '127.0.0.1' });
  t.equal(config.providers.openai?.apiKey, 'sk-from-env', '${VAR} is replaced from the environment');
  t.equal(config.redis.url, 'redis://fallback:6379', '${VAR:-default} falls back when unset');
  t.equal(config.admin.token, '', 'an empty default stays empty (admin API disabled)');
  t.equal(config.server.port, 9090, 'PORT overrides server.port');
  t.equal(config.server.host, '127.0.0.1', 'HOST overrides server.host');
  t.equal(config.server.bodyLimitBytes, 32 * 1024 * 1024, 'defaults are filled in');
  t.same(config.providers.openai?.endpoints, ['chat', 'responses'], 'providers serve both APIs by default');
  t.equal(config.redis.failMode, 'open', 'fail-open by default');
});

t.test('every bad path is reported at once', async (t) => {
  const raw = {
    ...minimal,
    server: { port: 'eighty' },
    providers: { openai: { baseUrl: 'not a url' } },
    models: { nano: { routes: [{ provider: 'nobody', model: 'x' }] } },
    keys: [{ name: 'k', key: 'short', tier: 'gold' }],
    surprise: true,
  };
  const err = (() => {
    try {
      parseConfig(raw, {});
    } catch (e) {
      return e;
    }
  })();
  t.type(err, ConfigError, 'a ConfigError');
  const problems = (err as ConfigError).problems.join('\n');
  for (const path of [
    'server.port',
    'providers.openai.baseUrl',
    'models.nano.routes.0.provider',
    'keys.0.key',
    'keys.0.tier',
  ]) {
    t.match(problems, path, `names ${path}`);
  }
  t.match(problems, /surprise/, 'an unknown top-level key is reported too');
});

/** The problems parseConfig reports for `raw` (none when it parses). */
function problemsOf(raw: object, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(raw, env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

t.test('a number field left blank by the environment is an error naming the variable', async (t) => {
  t.same(
    problemsOf({ ...minimal, server: { port: '${UNSET}' } }),
    ['server.port: ${UNSET} is not set, and a number is required'],
    'not a random port (port 0)',
  );
  t.same(
    problemsOf({ ...minimal, upstream: { connectTimeoutMs: '${X:-}' } }, { X: '' }),
    ['upstream.connectTimeoutMs: ${X} is not set, and a number is required'],
    'an empty default gives no number either, and a variable set to "" counts as unset',
  );
  t.same(
    problemsOf({ ...minimal, tiers: { free: { rpm: '${FREE_RPM}' } }, keys: [] }),
    ['tiers.free.rpm: ${FREE_RPM} is not set, and a number is required'],
    'an optional number: not silently "no limit"',
  );
  const budget = { name: 'k', key: 'sk-tg-0123456789abcdef', tier: 'free', budgetUsd: '${BUDGET}${EXTRA:-}' };
  t.same(
    problemsOf({ ...minimal, keys: [budget] }),
    ['keys.0.budgetUsd: ${BUDGET} and ${EXTRA} are not set, and a number is required'],
    'not silently "no budget"; every variable that left it blank is named',
  );
  t.same(
    problemsOf({ ...minimal, server: { drainDelayMs: ' ' } }),
    ['server.drainDelayMs: an empty value, and a number is required'],
    'a blank literal is not 0 either',
  );
  const problems = problemsOf({
    ...minimal,
    server: { port: '${P}', shutdownGraceMs: '${GRACE}' },
    limits: { perIpPerMinute: '${IP_LIMIT}' },
  });
  t.equal(problems.length, 3, 'every blank number is reported at once');
});

t.test('a number from the environment, or its written default, is used', async (t) => {
  const raw = {
    ...minimal,
    server: { port: '${P:-8181}', drainDelayMs: '${DRAIN}' },
    upstream: { connectTimeoutMs: '${CONNECT_MS:-2500}' },
    tiers: { free: { rpm: '${FREE_RPM}' } },
  };
  const config = parseConfig(raw, { DRAIN: '300', FREE_RPM: '7' });
  t.equal(config.server.port, 8181, '${VAR:-number} when unset');
  t.equal(config.server.drainDelayMs, 300, '${VAR} when set');
  t.equal(config.upstream.connectTimeoutMs, 2500);
  t.equal(config.tiers.free?.rpm, 7);
  t.equal(parseConfig({ ...minimal, server: { port: '${UNSET}' } }, { PORT: '9191' }).server.port, 9191, 'PORT wins');
});

t.test('an optional string left empty by the environment still counts as not set', async (t) => {
  const key = { name: 'k', key: '${DEMO_KEY:-}', tier: 'free', team: '${TEAM}' };
  const config = parseConfig({ ...minimal, keys: [key] }, {});
  t.equal(config.keys[0]?.key, undefined, 'key not set');
  t.equal(config.keys[0]?.team, undefined, 'team not set');
});

t.test('redis.cluster: a list of node URLs, exclusive with redis.url', async (t) => {
  const nodes = ['redis://10.0.0.1:7000', 'rediss://user:pw@10.0.0.2:7000'];
  const config = parseConfig({ ...minimal, redis: { cluster: { nodes } } }, {});
  t.same(config.redis.cluster, { nodes }, 'the nodes are kept as given');
  t.equal(config.redis.url, '', 'no single-server URL');
  t.equal(parseConfig(minimal, {}).redis.cluster, undefined, 'no cluster unless configured');
  t.same(
    problemsOf({ ...minimal, redis: { url: 'redis://one:6379', cluster: { nodes } } }),
    ['redis.cluster: set either redis.url (one Redis server) or redis.cluster.nodes (a Redis Cluster), not both'],
    'both set is one clear error',
  );
  t.same(
    parseConfig({ ...minimal, redis: { url: '${REDIS_URL:-}', cluster: { nodes } } }, {}).redis.cluster,
    { nodes },
    'a url left empty by the environment does not count as set',
  );
  t.match(problemsOf({ ...minimal, redis: { cluster: { nodes: [] } } }), [/^redis\.cluster\.nodes: /], 'at least one node');
  const fromEnv = { ...minimal, redis: { cluster: { nodes: '${REDIS_CLUSTER_NODES:-}' } } };
  t.same(
    parseConfig(fromEnv, { REDIS_CLUSTER_NODES: 'redis://a:7000, redis://b:7000' }).redis.cluster,
    { nodes: ['redis://a:7000', 'redis://b:7000'] },
    'a comma-separated string from the environment is a list',
  );
  t.equal(parseConfig(fromEnv, {}).redis.cluster, undefined, 'nodes left empty by the environment: no cluster');
  t.match(
    problemsOf({ ...minimal, redis: { cluster: { nodes: ['http://10.0.0.1:7000'] } } }),
    [/^redis\.cluster\.nodes\.0: /],
    'nodes are redis:// or rediss:// URLs',
  );
});

t.test('YAML and JSON files load; unreadable and malformed files fail clearly', async (t) => {
  const yaml = writeConfig('providers:\n  p: { baseUrl: "http://127.0.0.1:1/v1" }\nmodels:\n  m: { routes: [{ provider: p, model: m }] }\ntiers: { t: { rpm: 1 } }\n');
  t.equal(loadConfig(yaml, {}).models.m?.routes[0]?.provider, 'p', 'a YAML file');
  const json = writeConfig(JSON.stringify(minimal), 'tollgate.json');
  t.ok(loadConfig(json, {}).providers.openai, 'a JSON file');
  t.throws(() => loadConfig('/nonexistent/tollgate.yaml', {}), /cannot read file/, 'a missing file');
  t.throws(() => loadConfig(writeConfig('providers: [unclosed'), {}), /not valid YAML/, 'malformed YAML');
});

t.test('the server exits non-zero and lists the bad paths', async (t) => {
  const path = writeConfig(
    'server: { port: "${TOLLGATE_TEST_UNSET_PORT}" }\n' +
      'providers:\n  p: { baseUrl: nope }\nmodels: {}\ntiers: { t: { rpm: -1 } }\n',
  );
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, TOLLGATE_CONFIG: path },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.equal(result.status, 1, 'exit status 1');
  t.match(result.stderr, /providers\.p\.baseUrl/, 'names the bad baseUrl');
  t.match(result.stderr, /tiers\.t\.rpm/, 'names the bad rpm');
  t.match(result.stderr, 'server.port: ${TOLLGATE_TEST_UNSET_PORT} is not set, and a number is required');
});

t.test('the shipped configs are valid', async (t) => {
  for (const file of ['config/tollgate.yaml', 'config/tollgate.example.yaml']) {
    const config = loadConfig(file, {});
    t.same(
      Object.keys(config.tiers),
      ['free', 'tier-1', 'tier-2', 'tier-3', 'tier-4', 'tier-5'],
      `${file}: the six tiers`,
    );
    t.same(
      config.models['gpt-4.1-nano']?.routes.map((r) => r.provider),
      ['openai', 'aimlapi', 'oxen'],
      `${file}: three routes for gpt-4.1-nano`,
    );
    t.same(config.providers.oxen?.endpoints, ['chat'], `${file}: Oxen serves chat only`);
    t.same(
      config.models['gpt-4.1-nano']?.pricing,
      { input: 0.1, cachedInput: 0.025, output: 0.4 },
      `${file}: gpt-4.1-nano pricing`,
    );
  }
});

t.test(
  'server.trustProxy: off by default; true, or proxy addresses from a list or an environment string',
  async (t) => {
    const trustProxy = (value: unknown) =>
      parseConfig({ ...minimal, server: { trustProxy: value } }, {}).server.trustProxy;
    t.equal(parseConfig(minimal, {}).server.trustProxy, false, 'default: X-Forwarded-For is not believed');
    t.equal(trustProxy('false'), false, '"false" from an environment variable');
    t.equal(trustProxy(''), false, 'an unset variable is off');
    t.equal(trustProxy('true'), true, '"true" believes every hop');
    t.same(
      trustProxy('uniquelocal, 10.1.2.3,fd00::/8'),
      ['uniquelocal', '10.1.2.3', 'fd00::/8'],
      'a comma-separated string is a list',
    );
    t.same(
      trustProxy(['127.0.0.1', '172.16.0.0/255.240.0.0']),
      ['127.0.0.1', '172.16.0.0/255.240.0.0'],
      'a YAML list, with a netmask',
    );
    const problems = (value: unknown) => {
      try {
        trustProxy(value);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    t.match(
      problems('nginx'),
      [/server\.trustProxy.*"nginx" is not an IP address/],
      'a hostname is refused at start-up, not at the first request',
    );
    t.match(problems('10.0.0.0/33'), [/server\.trustProxy/], 'an impossible prefix length is refused');
    t.match(problems(2), [/server\.trustProxy/], 'a hop count is refused (Fastify would ignore the header)');
  },
);
