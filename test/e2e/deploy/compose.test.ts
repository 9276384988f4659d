// docker-compose.yml must be valid and wired the way the docs say: checked with the real
// `docker-compose config` (no Docker engine needed), whose output is the fully resolved file.
// CI installs docker-compose (Debian package `docker-compose`); without it this test fails under CI=…
// and is skipped only on a developer machine.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../src/config.js';
import { finalImage, readDockerfile } from '../../helpers/dockerfile.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const COMPOSE = 'docker-compose';

const probe = spawnSync(COMPOSE, ['version'], { encoding: 'utf8', timeout: 30_000 });
if (probe.error || probe.status !== 0) {
  if (process.env.CI) {
    t.fail(`${COMPOSE} is not installed: CI must install it (apt-get install -y docker-compose)`, {
      error: probe.error?.message,
      stderr: probe.stderr,
    });
  } else {
    t.plan(0, `${COMPOSE} is not installed (apt-get install -y docker-compose); this test fails when CI is set`);
  }
} else {
  t.comment(probe.stdout.split('\n')[0] ?? '');
  await checks();
}

/** Variables .env.example declares, set or commented out (`#NAME=`). */
function envExampleNames(): Set<string> {
  const text = readFileSync(join(repo, '.env.example'), 'utf8');
  return new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

/**
 * What these checks read of `docker-compose config` output. Entries whose form differs between compose
 * v1 and v2 (volumes, ports, depends_on) stay `unknown` and go through volume(), port() and dependsOn().
 */
interface ComposeService {
  image?: string;
  command?: unknown;
  build?: unknown;
  depends_on?: unknown;
  environment?: Record<string, string>;
  volumes?: unknown[];
  ports?: unknown[];
  profiles?: string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  init?: boolean;
  restart?: string;
  stop_grace_period?: string;
}
interface ComposeConfig {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Runs `docker-compose config` in a scratch copy of the deploy files with `.env` = `.env.example`
 * (the documented first step, and env_file needs the file to exist), and returns the parsed output.
 * The environment is scrubbed of every variable .env.example declares so the host cannot change it.
 */
function composeConfig(
  dir: string,
  extraArgs: string[],
  env: Record<string, string> = {},
): { status: number | null; parsed: ComposeConfig | undefined; stderr: string } {
  const clean: Record<string, string> = {};
  const declared = envExampleNames();
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !declared.has(k) && !k.startsWith('COMPOSE_') && !k.startsWith('DOCKER_')) clean[k] = v;
  }
  const res = spawnSync(
    COMPOSE,
    ['-f', 'docker-compose.yml', '--env-file', '.env.example', ...extraArgs, 'config'],
    {
      cwd: dir,
      env: { ...clean, COMPOSE_PROJECT_NAME: 'tollgate-test', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  let parsed: ComposeConfig | undefined;
  try {
    parsed = res.status === 0 ? (parseYaml(res.stdout) as ComposeConfig) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, parsed, stderr: `${res.error?.message ?? ''}${res.stderr}` };
}

/** t.ok, telling TypeScript too that the service is there. */
function present(t: Test, service: ComposeService | undefined, what: string): service is ComposeService {
  return t.ok(service, what);
}

/** A volume entry in either v1 (`src:target:mode`) or v2 (long object) output form. */
function volume(v: unknown): { source: string; target: string; readOnly: boolean } {
  if (typeof v === 'string') {
    const parts = v.split(':');
    const mode = parts.length >= 3 ? parts.at(-1)! : '';
    const [source = '', target = ''] = parts.length >= 3 ? parts.slice(0, -1) : parts;
    return { source, target, readOnly: mode.split(',').includes('ro') };
  }
  const o = v as { source?: string; target?: string; read_only?: boolean };
  return { source: o.source ?? '', target: o.target ?? '', readOnly: o.read_only === true };
}

/** A port entry in either output form → `[host_ip:]published:target`. */
function port(p: unknown): string {
  if (typeof p === 'string') return p.replace(/\/tcp$/, '');
  const o = p as { host_ip?: string; published?: string | number; target?: number };
  return `${o.host_ip ? `${o.host_ip}:` : ''}${o.published ?? ''}:${o.target}`;
}

/** depends_on in either form → { service: condition }. */
function dependsOn(d: unknown): Record<string, string> {
  if (Array.isArray(d)) return Object.fromEntries(d.map((s: string) => [s, 'service_started']));
  return Object.fromEntries(
    Object.entries((d ?? {}) as Record<string, { condition?: string }>).map(([k, v]) => [
      k,
      v.condition ?? 'service_started',
    ]),
  );
}

/** Whether the final stage of the Dockerfile copies `source` from the build context into its WORKDIR. */
function finalStageCopies(source: string): boolean {
  const instructions = readDockerfile(join(repo, 'Dockerfile'));
  const lastFrom = instructions.findLastIndex((ins) => ins.keyword === 'FROM');
  return instructions
    .slice(lastFrom)
    .some((ins) => ins.keyword === 'COPY' && new RegExp(`^${source}\\s+\\./${source}$`).test(ins.args));
}

async function checks(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['docker-compose.yml', '.env.example', 'config', 'deploy']) {
    cpSync(join(repo, f), join(dir, f), { recursive: true });
  }
  cpSync(join(repo, '.env.example'), join(dir, '.env'));
  const image = finalImage(readDockerfile(join(repo, 'Dockerfile')));

  // --profile scaled so the proxy is part of the output with every compose version (v1 lists all).
  const { status, parsed: cfg, stderr } = composeConfig(dir, ['--profile', 'scaled']);
  t.equal(status, 0, 'docker-compose config accepts docker-compose.yml with .env.example', { stderr });
  if (!cfg) return;
  const services = cfg.services ?? {};

  t.test('redis', async (t) => {
    const redis = services.redis;
    if (!present(t, redis, 'a redis service')) return;
    t.match(redis.image, /^redis:7/, 'Redis 7 image');
    t.match(redis.command, ['redis-server', '--appendonly', 'yes'], 'append-only persistence');
    const data = (redis.volumes ?? []).map(volume).find((v: { target: string }) => v.target === '/data');
    t.ok(data, '/data is a volume');
    t.equal(data?.source, 'redis-data', '/data is the named volume redis-data');
    t.ok(cfg.volumes && 'redis-data' in cfg.volumes, 'redis-data is declared under top-level volumes');
    t.match(redis.healthcheck?.test, ['CMD', 'redis-cli', 'ping'], 'healthcheck runs redis-cli ping');
  });

  t.test('tollgate', async (t) => {
    const tg = services.tollgate;
    if (!present(t, tg, 'a tollgate service')) return;
    t.ok(tg.build, 'built from the repository Dockerfile');
    t.equal(dependsOn(tg.depends_on).redis, 'service_healthy', 'starts once redis is healthy');
    t.equal(tg.environment?.REDIS_URL, 'redis://redis:6379', 'REDIS_URL points at the redis service');
    for (const name of [
      'OPENAI_API_KEY',
      'AIMLAPI_API_KEY',
      'OXEN_API_KEY',
      'TOLLGATE_ADMIN_TOKEN',
      'TOLLGATE_DEMO_KEY',
    ]) {
      t.ok(name in (tg.environment ?? {}), `${name} reaches the container from env_file .env`);
    }
    const configPath = image.env.TOLLGATE_CONFIG;
    t.equal(configPath, '/etc/tollgate/tollgate.yaml', 'the image reads its config from /etc/tollgate/tollgate.yaml');
    const mount = (tg.volumes ?? []).map(volume).find((v: { target: string }) => v.target === configPath);
    t.ok(mount, 'the config file is mounted at TOLLGATE_CONFIG');
    t.ok(mount?.readOnly, 'the config mount is read-only');
    t.equal(mount?.source, join(dir, 'config/tollgate.yaml'), 'the mount source is ./config/tollgate.yaml');
    t.same((tg.ports ?? []).map(port), ['8080:8080'], 'host port 8080 → container port 8080 by default');
    t.ok(image.expose.includes('8080'), 'the image EXPOSEs the container port');
    t.equal(tg.init, true, 'init: true (signals forwarded, zombies reaped)');
    t.equal(tg.restart, 'unless-stopped', 'restart unless-stopped');
    t.ok(tg.stop_grace_period, 'a stop_grace_period for draining streams');
    t.notOk(tg.healthcheck?.disable, "the image's HEALTHCHECK is not disabled");
    t.ok(image.healthcheck, 'the image defines the HEALTHCHECK that depends_on service_healthy relies on');
  });

  t.test('proxy (profile scaled)', async (t) => {
    const proxy = services.proxy;
    if (!present(t, proxy, 'a proxy service')) return;
    t.same(proxy.profiles, ['scaled'], 'only in the scaled profile');
    t.equal(dependsOn(proxy.depends_on).tollgate, 'service_healthy', 'starts once tollgate is healthy');
    const confMount = (proxy.volumes ?? [])
      .map(volume)
      .find((v: { target: string }) => v.target === '/etc/nginx/nginx.conf');
    t.ok(confMount?.readOnly, 'nginx.conf is mounted read-only');
    t.equal(confMount?.source, join(dir, 'deploy/nginx.conf'), 'from deploy/nginx.conf');
    t.ok(existsSync(join(repo, 'deploy/nginx.conf')), 'deploy/nginx.conf exists');
    const conf = readFileSync(join(repo, 'deploy/nginx.conf'), 'utf8');
    const listen = /^\s*listen\s+(\d+)\s*;/m.exec(conf)?.[1];
    t.same((proxy.ports ?? []).map(port), [`8080:${listen}`], 'publishes host 8080 to the port nginx listens on');
    t.match(
      conf,
      /server\s+tollgate:8080\s+resolve\s*;/,
      'balances over every replica of the tollgate service (re-resolved)',
    );
    t.match(conf, /resolver\s+127\.0\.0\.11\b/, "uses Docker's embedded DNS");
    t.match(conf, /proxy_buffering\s+off\s*;/, 'streams are not buffered');
    t.match(
      conf,
      /proxy_set_header\s+X-Forwarded-For\s+\$remote_addr\s*;/,
      'nginx names the client in X-Forwarded-For, replacing what a client sent',
    );
  });

  t.test('scaling: TOLLGATE_TRUST_PROXY reaches server.trustProxy, off unless set', async (t) => {
    const off = services.tollgate?.environment?.TOLLGATE_TRUST_PROXY;
    t.equal(off, 'false', 'with .env.example the replicas believe no X-Forwarded-For');
    const scaled = composeConfig(dir, ['--profile', 'scaled'], { TOLLGATE_TRUST_PROXY: 'uniquelocal' });
    const value = scaled.parsed?.services?.tollgate?.environment?.TOLLGATE_TRUST_PROXY;
    t.equal(value, 'uniquelocal', 'the setting reaches the container');
    const shipped = loadConfig(join(repo, 'config/tollgate.yaml'), { TOLLGATE_TRUST_PROXY: value });
    t.same(shipped.server.trustProxy, ['uniquelocal'], 'config/tollgate.yaml passes it to server.trustProxy');
  });

  t.test('scaling: TOLLGATE_PORT=127.0.0.1: gives every replica its own ephemeral port', async (t) => {
    const scaled = composeConfig(dir, ['--profile', 'scaled'], { TOLLGATE_PORT: '127.0.0.1:' });
    t.equal(scaled.status, 0, 'docker-compose config accepts the scaling setting', { stderr: scaled.stderr });
    const ports = ((scaled.parsed?.services?.tollgate?.ports ?? []) as unknown[]).map(port);
    t.same(ports, ['127.0.0.1::8080'], 'no fixed host port, loopback only');
  });

  t.test('demo (profile demo): the offline demo, needing no Redis, nothing of .env, no provider key', async (t) => {
    const { status, parsed, stderr } = composeConfig(dir, ['--profile', 'demo']);
    t.equal(status, 0, 'docker-compose config accepts the demo profile', { stderr });
    const demo = parsed?.services?.demo;
    if (!present(t, demo, 'a demo service')) return;
    t.same(demo.profiles, ['demo'], 'only in the demo profile');
    t.ok(demo.build, 'the same image as tollgate, from the repository Dockerfile');
    const command = demo.command as string[];
    t.same(command, ['node', 'dist/src/demo/main.js'], "runs the demo's entry point instead of the server");
    t.ok(existsSync(join(repo, 'src/demo/main.ts')), 'which the build compiles from src/demo/main.ts');
    t.ok(finalStageCopies('config'), 'the image carries config/, where the demo reads config/demo.yaml');
    t.same(dependsOn(demo.depends_on), {}, 'depends on nothing: no Redis');
    t.same(demo.environment, { HOST: '0.0.0.0' }, 'nothing from .env: no provider key, no REDIS_URL');
    const shipped = loadConfig(join(repo, 'config/demo.yaml'), {
      HOST: demo.environment?.HOST,
      TOLLGATE_DEMO_UPSTREAM_URL: 'http://127.0.0.1:1/v1',
    });
    t.equal(shipped.redis.url, '', 'config/demo.yaml keeps its stores in memory');
    t.same(
      (demo.ports ?? []).map(port),
      [`127.0.0.1:8080:${shipped.server.port}`],
      'host loopback 8080 to the port the demo listens on: its public credentials stay on this machine',
    );
    t.equal(demo.init, true, 'init: true (signals forwarded, zombies reaped)');
  });

  t.test('cluster (profile cluster): six nodes joined by cluster-init, tollgate-cluster on them', async (t) => {
    const { status, parsed, stderr } = composeConfig(dir, ['--profile', 'cluster']);
    t.equal(status, 0, 'docker-compose config accepts the cluster profile', { stderr });
    const all = parsed?.services ?? {};
    const nodes = Object.keys(all).filter((name) => /^redis-node-\d$/.test(name)).sort();
    t.same(nodes, [1, 2, 3, 4, 5, 6].map((i) => `redis-node-${i}`), 'six cluster nodes');
    for (const name of nodes) {
      const node = all[name]!;
      t.same(node.profiles, ['cluster'], `${name} only in the cluster profile`);
      t.match(node.image, /^redis:7/, `${name} runs the Redis 7 image`);
      t.match(node.command, ['redis-server', '--cluster-enabled', 'yes'], `${name} is a cluster node`);
      t.match(node.healthcheck?.test, ['CMD', 'redis-cli', 'ping'], `${name} has a healthcheck`);
    }
    const init = all['cluster-init'];
    if (!present(t, init, 'a cluster-init service')) return;
    t.same(dependsOn(init.depends_on), Object.fromEntries(nodes.map((name) => [name, 'service_healthy'])),
      'cluster-init waits for every node to answer');
    const script = ([] as unknown[]).concat(init.command).join('\n');
    t.match(script, /redis-cli --cluster create .*--cluster-replicas 1 --cluster-yes/, 'three primaries, a replica each');
    t.match(script, /cluster_state:ok/, 'a no-op on a cluster already up, and done only once the cluster is ok');
    const tg = all['tollgate-cluster'];
    if (!present(t, tg, 'a tollgate-cluster service')) return;
    t.same(tg.profiles, ['cluster'], 'only in the cluster profile');
    t.equal(dependsOn(tg.depends_on)['cluster-init'], 'service_completed_successfully', 'after the cluster is up');
    const shipped = loadConfig(join(repo, 'config/tollgate.yaml'), tg.environment ?? {});
    t.equal(shipped.redis.url, '', 'no single-server URL');
    t.same(
      shipped.redis.cluster?.nodes,
      ['redis://redis-node-1:6379', 'redis://redis-node-2:6379', 'redis://redis-node-3:6379'],
      'config/tollgate.yaml takes REDIS_CLUSTER_NODES: the nodes it starts from',
    );
  });

  t.test('.env.example documents every variable', async (t) => {
    const declared = envExampleNames();
    const used = new Set<string>();
    for (const f of ['config/tollgate.yaml', 'docker-compose.yml']) {
      // Comments dropped: they mention `${VAR}` syntax in prose.
      const code = readFileSync(join(repo, f), 'utf8').replace(/(^|\s)#.*$/gm, '');
      for (const m of code.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) used.add(m[1]!);
    }
    for (const name of new Set([...used, 'TOLLGATE_CONFIG', 'REDIS_URL', 'REDIS_CLUSTER_NODES'])) {
      t.ok(declared.has(name), `.env.example mentions ${name}`);
    }
    const text = readFileSync(join(repo, '.env.example'), 'utf8');
    t.notMatch(text, /^[A-Z_]*(KEY|TOKEN)=\S+/m, 'no secret values in .env.example');
  });
}
