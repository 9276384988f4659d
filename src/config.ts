/**
 * Configuration: one YAML (or JSON) file, `${VAR}` / `${VAR:-default}` replaced from the environment,
 * validated with zod once at start-up. A bad file fails with every offending path. (docs/contract.md §12)
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ENDPOINTS } from './openai/endpoint.js';
import { trustProxySchema } from './trust-proxy.js';

export const DEFAULT_CONFIG_PATH = 'config/tollgate.yaml';

/** Marks the issue of a number field left blank, so parseConfig can name the variable that was not set. */
const BLANK_NUMBER = 'blankNumber';

/**
 * Numbers may be written as strings (that is what `${VAR}` gives), but a blank one is a missing number:
 * not 0 (a random port, no drain delay), and not the field's default or "no limit" either, since a
 * placeholder in a number field says the operator meant to set it (docs/contract.md §12). A variable that
 * may be unset gives its number as a default: `${PORT:-8080}`.
 */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (typeof value === 'string' && value.trim() === '') {
      ctx.addIssue({ code: 'custom', message: 'a number is required', params: { [BLANK_NUMBER]: true } });
    }
    return value;
  }, schema);

const port = numeric(z.coerce.number().int().min(0).max(65535));
const positiveInt = numeric(z.coerce.number().int().positive());
const nonNegative = numeric(z.coerce.number().nonnegative());
/** Environment placeholders that resolve to '' mean "not set": treat them as absent (strings; numbers, above). */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/**
 * Redis Cluster node URLs: a list, or one comma-separated string, which is what `${REDIS_CLUSTER_NODES}`
 * gives; `nodes` left empty by the environment means no cluster (redis.cluster above).
 */
const clusterNodes = z.preprocess(
  (nodes) => (typeof nodes === 'string' ? nodes.split(',').map((node) => node.trim()) : nodes),
  z.array(z.url({ protocol: /^rediss?$/ })).min(1),
);

/** How a provider is spoken to (src/dialects/): OpenAI's own bodies, or a reseller's form body. */
export const PROVIDER_FORMATS = ['openai', 'form-schema'] as const;

const providerSchema = z
  .strictObject({
    baseUrl: z.url({ protocol: /^https?$/ }),
    apiKey: z.string().default(''),
    headers: z.record(z.string(), z.string()).default({}),
    endpoints: z.array(z.enum(ENDPOINTS)).nonempty().default([...ENDPOINTS]),
    format: z.enum(PROVIDER_FORMATS).default('openai'),
    /** The chat path under baseUrl, instead of /chat/completions. */
    chatPath: optional(z.string().regex(/^\//, 'a path starting with /')),
    limits: optional(z.strictObject({ rpm: positiveInt.optional(), tpm: positiveInt.optional() })),
  })
  // The form body exists for Chat Completions only (docs/contract.md §12).
  .transform((provider) =>
    provider.format === 'form-schema' ? { ...provider, endpoints: ['chat' as const] } : provider,
  );

const routeSchema = z.strictObject({ provider: z.string().min(1), model: z.string().min(1) });

const pricingSchema = z.strictObject({
  input: nonNegative,
  cachedInput: nonNegative.optional(),
  output: nonNegative,
});

const modelSchema = z.strictObject({
  routes: z.array(routeSchema).nonempty(),
  pricing: pricingSchema.default({ input: 0, output: 0 }),
  // Accepted and validated, but nothing reads it yet (docs/contract.md §12).
  contextWindow: positiveInt.optional(),
  maxOutputTokens: positiveInt.optional(),
  ownedBy: z.string().default('tollgate'),
});

const tierSchema = z.strictObject({
  rpm: positiveInt.optional(),
  rpd: positiveInt.optional(),
  tpm: positiveInt.optional(),
  tpd: positiveInt.optional(),
});

const keyHashPattern = /^sha256:[0-9a-f]{64}$/;
const staticKeySchema = z.strictObject({
  name: z.string().min(1),
  key: optional(z.string().min(16, 'a key needs at least 16 characters')),
  keyHash: optional(z.string().regex(keyHashPattern, 'expected sha256:<64 lowercase hex>')),
  tier: z.string().min(1),
  team: optional(z.string()),
  models: optional(z.array(z.string().min(1))),
  budgetUsd: nonNegative.optional(),
  expiresAt: optional(z.iso.datetime({ offset: true }).or(z.iso.date())),
});

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(8080),
        bodyLimitBytes: positiveInt.default(32 * 1024 * 1024),
        /**
         * On SIGTERM, how long /readyz answers 503 while new requests are still served, so load balancers
         * can stop routing here first.
         */
        drainDelayMs: nonNegative.default(0),
        /** Then how long in-flight requests and streams may finish before their connections are closed. */
        shutdownGraceMs: nonNegative.default(25_000),
        /**
         * Proxies whose X-Forwarded-For gives the client address (per-IP guard): false (default), true, or
         * their addresses/CIDRs.
         */
        trustProxy: trustProxySchema.default(false),
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
    redis: z
      .strictObject({
        /** One Redis server; empty (the default) with no cluster: memory stores, one instance. */
        url: z.string().default(''),
        /** A Redis Cluster instead: some of its nodes (ioredis discovers the rest). */
        cluster: z.preprocess(
          (cluster) => ((cluster as { nodes?: unknown } | undefined)?.nodes === '' ? undefined : cluster),
          z.strictObject({ nodes: clusterNodes }).optional(),
        ),
        failMode: z.enum(['open', 'closed']).default('open'),
        commandTimeoutMs: positiveInt.default(500),
        keyPrefix: z.string().default('tg:'),
      })
      .refine((redis) => !(redis.url && redis.cluster), {
        path: ['cluster'],
        message: 'set either redis.url (one Redis server) or redis.cluster.nodes (a Redis Cluster), not both',
      })
      .prefault({}),
    admin: z.strictObject({ token: z.string().default('') }).prefault({}),
    metrics: z.strictObject({ token: z.string().default('') }).prefault({}),
    upstream: z
      .strictObject({
        connectTimeoutMs: positiveInt.default(5_000),
        /** Time to the response headers; streams only send them once generation starts. */
        headersTimeoutMs: positiveInt.default(60_000),
        /** Longest silence between two body chunks. */
        bodyTimeoutMs: positiveInt.default(300_000),
        /**
         * Most open connections to one upstream origin. Each stream holds its connection from request to
         * last event, so this is the most concurrent streams per provider: one past it waits, with no
         * timeout, for a whole earlier stream to end. Sized so streams never queue; what bounds the process
         * is its open files (two per stream, the client's and the upstream's) and ~30 KB of heap per stream.
         */
        connectionsPerOrigin: positiveInt.default(10_000),
        /**
         * Most of one upstream answer held in memory. A JSON answer up to this size is read whole before
         * anything is sent (so a truncated or invalid one falls through to the next route); a larger one
         * is streamed to the client as it arrives.
         */
        maxBufferedAnswerBytes: positiveInt.default(8 * 1024 * 1024),
        /** Most bytes of all the answers being read at once; past it, answers stream through too. */
        maxBufferedAnswersTotalBytes: positiveInt.default(64 * 1024 * 1024),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Output tokens reserved at admission when the request sets no cap. */
        defaultOutputTokens: positiveInt.default(4_096),
        /** Per-IP guard in front of authentication and the admin API (bad-key floods). */
        perIpPerMinute: positiveInt.default(6_000),
        /**
         * With Redis: a busy subject is admitted from a slice of its buckets this instance leased from
         * Redis (src/limits/lease-limiter.ts) instead of one round trip per request.
         */
        leasing: z.boolean().default(true),
      })
      .prefault({}),
    usage: z
      .strictObject({
        retentionDays: positiveInt.default(400),
        /** Hourly usage cells (GET /admin/usage?groupBy=hour) are kept this long; daily ones retentionDays. */
        hourlyRetentionDays: positiveInt.default(3),
      })
      .refine((usage) => usage.hourlyRetentionDays <= usage.retentionDays, {
        path: ['hourlyRetentionDays'],
        message: 'must not exceed usage.retentionDays',
      })
      .prefault({}),
    /** Stored-response records (src/responses/): how long one is kept after it is written. */
    responses: z.strictObject({ retentionDays: positiveInt.default(30) }).prefault({}),
    providers: z.record(z.string(), providerSchema),
    models: z.record(z.string(), modelSchema),
    tiers: z.record(z.string(), tierSchema),
    keys: z.array(staticKeySchema).default([]),
  })
  .superRefine(checkReferences, { when: () => true });

export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][string];
export type ModelConfig = Config['models'][string];
export type TierConfig = Config['tiers'][string];
export type StaticKeyConfig = Config['keys'][number];
export type Pricing = ModelConfig['pricing'];

/**
 * Cross-references (routes → providers, keys → tiers and models). Runs even when other fields are
 * invalid (`when` below), so one start-up reports every problem; hence the defensive reads.
 */
function checkReferences(config: unknown, ctx: z.RefinementCtx): void {
  const cfg = (config ?? {}) as {
    providers?: object;
    models?: Record<string, { routes?: unknown }>;
    tiers?: object;
    keys?: unknown;
  };
  const has = (record: object | undefined, name: unknown) =>
    typeof name === 'string' && record !== null && typeof record === 'object' && name in record;
  for (const [alias, model] of Object.entries(cfg.models ?? {})) {
    const routes = Array.isArray(model?.routes) ? (model.routes as { provider?: unknown }[]) : [];
    routes.forEach((route, i) => {
      if (!has(cfg.providers, route?.provider)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', alias, 'routes', i, 'provider'],
          message: `unknown provider "${String(route?.provider)}"`,
        });
      }
    });
  }
  const keys = Array.isArray(cfg.keys)
    ? (cfg.keys as { tier?: unknown; key?: unknown; keyHash?: unknown; models?: unknown }[])
    : [];
  keys.forEach((key, i) => {
    if (!has(cfg.tiers, key?.tier)) {
      ctx.addIssue({ code: 'custom', path: ['keys', i, 'tier'], message: `unknown tier "${String(key?.tier)}"` });
    }
    if (key?.key && key?.keyHash) {
      ctx.addIssue({ code: 'custom', path: ['keys', i], message: 'set either key or keyHash, not both' });
    }
    for (const alias of Array.isArray(key?.models) ? key.models : []) {
      if (!has(cfg.models, alias)) {
        ctx.addIssue({ code: 'custom', path: ['keys', i, 'models'], message: `unknown model "${String(alias)}"` });
      }
    }
  });
}

export class ConfigError extends Error {
  constructor(readonly problems: string[], source: string) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string value (not in the raw text, so YAML syntax stays intact). */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_m, name: string, fallback?: string) => {
      const v = env[name];
      return v !== undefined && v !== '' ? v : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

/** Validates an already parsed config object; `PORT` and `HOST` override the file. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = 'config'): Config {
  const resolved = interpolate(raw, env) as Record<string, unknown>;
  const server = { ...((resolved?.server as object | undefined) ?? {}) } as Record<string, unknown>;
  if (env.PORT) server.port = env.PORT;
  if (env.HOST) server.host = env.HOST;
  const result = configSchema.safeParse({ ...resolved, server });
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${problemWords(issue, raw, env)}`,
    );
    throw new ConfigError(problems, source);
  }
  return result.data;
}

/** The issue's message; a blank number names the variables that left it blank, as the file wrote them. */
function problemWords(issue: z.core.$ZodIssue, raw: unknown, env: NodeJS.ProcessEnv): string {
  if (issue.code !== 'custom' || !issue.params?.[BLANK_NUMBER]) return issue.message;
  const written = issue.path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown>)?.[key], raw);
  const unset = typeof written === 'string' ? unsetPlaceholders(written, env) : [];
  if (unset.length === 0) return 'an empty value, and a number is required';
  return `${unset.join(' and ')} ${unset.length === 1 ? 'is' : 'are'} not set, and a number is required`;
}

/** The placeholders of `text` whose variable is unset or empty (their default, if any, was empty too). */
function unsetPlaceholders(text: string, env: NodeJS.ProcessEnv): string[] {
  return [...text.matchAll(PLACEHOLDER)]
    .filter(([, name]) => !env[name!]?.trim())
    .map(([, name]) => `\${${name}}`);
}

export function loadConfig(path = process.env.TOLLGATE_CONFIG || DEFAULT_CONFIG_PATH, env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read file: ${(err as Error).message}`], path);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON, so .json files load too
  } catch (err) {
    throw new ConfigError([`not valid YAML/JSON: ${(err as Error).message}`], path);
  }
  return parseConfig(raw, env, path);
}
