#!/usr/bin/env node
/**
 * Operator CLI over the admin API. It speaks HTTP to a running gateway (TOLLGATE_URL with
 * TOLLGATE_ADMIN_TOKEN) rather than to Redis, so it behaves the same against any deployment and goes
 * through the same validation as every other admin client.
 */
import './node-version.js'; // first: exits with a clear message on a Node.js too old for what follows
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { USAGE_ROW_COUNTERS } from './usage/usage-store.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** The usage table's dimension columns, in the API's order (src/routes/admin-usage.ts), when rows have them. */
const USAGE_DIMENSIONS = ['hour', 'day', 'keyId', 'keyName', 'team', 'model'];

const HELP = `Usage: tollgate <command> [options]

Commands:
  keys create --name <name> --tier <tier> [--team <team>] [--models a,b] [--budget <usd>] [--expires <date>]
  keys update <id> [--name <name>] [--tier <tier>] [--team <team>|none] [--models a,b|none]
        [--budget <usd>|none] [--expires <date>|none]      (none clears: no team, every model, no budget, no expiry)
  keys list [--json]
  keys get <id>
  keys revoke <id>
  usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--key <id>] [--team <team>] [--model <alias>]
        [--by hour|day,model,key,team] [--json | --csv]   (--group-by is the same as --by)

Environment:
  TOLLGATE_URL          the gateway (default ${DEFAULT_URL})
  TOLLGATE_ADMIN_TOKEN  its admin token
`;

const OPTIONS = {
  name: { type: 'string' },
  tier: { type: 'string' },
  team: { type: 'string' },
  models: { type: 'string' },
  budget: { type: 'string' },
  expires: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  key: { type: 'string' },
  model: { type: 'string' },
  by: { type: 'string' },
  'group-by': { type: 'string' },
  csv: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
type Api = (method: string, path: string, body?: unknown) => Promise<Response>;
type Row = Record<string, unknown>;

/** Exit code 2: the command line itself is wrong (as opposed to 1: the request failed). */
class UsageError extends Error {}

const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs one command; resolves to the exit code. */
export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: CliOutput = processOutput,
): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv);
    if (values.help) {
      out.stdout(HELP);
      return 0;
    }
    const [group = '', action = '', ...rest] = positionals;
    const command = group === 'keys' ? `keys ${action}` : group;
    const args = group === 'keys' ? rest : positionals.slice(1);
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    await handler({ api: client(env), values, args, out });
    return 0;
  } catch (err) {
    out.stderr(`tollgate: ${(err as Error).message}\n`);
    if (err instanceof UsageError) out.stderr('Run "tollgate --help" for usage.\n');
    return err instanceof UsageError ? 2 : 1;
  }
}

interface Context {
  api: Api;
  values: Values;
  args: string[];
  out: CliOutput;
}

const COMMANDS: Record<string, (ctx: Context) => Promise<void>> = {
  'keys create': async ({ api, values, out }) => {
    if (!values.name || !values.tier) throw new UsageError('keys create needs --name and --tier');
    const created = await (await api('POST', '/keys', keyBody(values))).json();
    out.stdout(`${JSON.stringify(created, null, 2)}\n`);
    out.stderr('Store the key now: it is not shown again.\n');
  },
  'keys list': async ({ api, values, out }) => {
    const { data } = (await (await api('GET', '/keys')).json()) as { data: Row[] };
    out.stdout(
      values.json
        ? `${JSON.stringify(data, null, 2)}\n`
        : table(data, ['id', 'name', 'tier', 'team', 'status', 'budgetUsd', 'expiresAt', 'source']),
    );
  },
  'keys update': async ({ api, values, args, out }) => {
    const updated = await (await api('PATCH', `/keys/${oneId(args)}`, patchBody(values))).json();
    out.stdout(`${JSON.stringify(updated, null, 2)}\n`);
  },
  'keys get': async ({ api, args, out }) =>
    out.stdout(`${JSON.stringify(await (await api('GET', `/keys/${oneId(args)}`)).json(), null, 2)}\n`),
  'keys revoke': async ({ api, args, out }) =>
    out.stdout(`${JSON.stringify(await (await api('DELETE', `/keys/${oneId(args)}`)).json(), null, 2)}\n`),
  usage: async ({ api, values, out }) => {
    const query = new URLSearchParams();
    const params = {
      from: values.from,
      to: values.to,
      keyId: values.key,
      team: values.team,
      model: values.model,
      groupBy: grouping(values),
    };
    for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
    if (values.csv) query.set('format', 'csv');
    const response = await api('GET', `/usage?${query}`);
    if (values.csv) return out.stdout(await response.text());
    const { data } = (await response.json()) as { data: Row[] };
    const columns = USAGE_DIMENSIONS.filter((c) => data.some((row) => c in row));
    out.stdout(
      values.json ? `${JSON.stringify(data, null, 2)}\n` : table(data, [...columns, ...USAGE_ROW_COUNTERS]),
    );
  },
};

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message); // unknown option, missing value
  }
}

function keyBody(values: Values): Row {
  const budgetUsd = values.budget === undefined ? undefined : usd(values.budget);
  const models = values.models === undefined ? undefined : modelList(values.models);
  return { name: values.name, tier: values.tier, team: values.team, models, budgetUsd, expiresAt: values.expires };
}

/** The PATCH body of `keys update`: only the options given; `none` is JSON null, which clears the field. */
function patchBody(values: Values): Row {
  const cleared = <T>(value: string | undefined, parse: (v: string) => T) =>
    value === undefined ? undefined : value === 'none' ? null : parse(value);
  const body = {
    name: values.name,
    tier: values.tier,
    team: cleared(values.team, String),
    models: cleared(values.models, modelList),
    budgetUsd: cleared(values.budget, usd),
    expiresAt: cleared(values.expires, String),
  };
  const given = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
  if (Object.keys(given).length === 0) {
    throw new UsageError('keys update needs at least one of --name, --tier, --team, --models, --budget, --expires');
  }
  return given;
}

function usd(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) {
    throw new UsageError(`--budget must be a number of USD, got "${text}"`);
  }
  return value;
}

const modelList = (text: string): string[] => text.split(',').map((m) => m.trim()).filter(Boolean);

/** --by and --group-by name the same thing; one of them at most. */
function grouping(values: Values): string | undefined {
  if (values.by !== undefined && values['group-by'] !== undefined) {
    throw new UsageError('give --by or --group-by, not both');
  }
  return values.by ?? values['group-by'];
}

function oneId(args: string[]): string {
  if (args.length !== 1 || !args[0]) throw new UsageError('expected exactly one key id');
  return encodeURIComponent(args[0]);
}

function client(env: NodeJS.ProcessEnv): Api {
  const base = (env.TOLLGATE_URL || DEFAULT_URL).replace(/\/+$/, '');
  const token = env.TOLLGATE_ADMIN_TOKEN;
  if (!token) throw new Error('TOLLGATE_ADMIN_TOKEN is not set');
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${base}/admin${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as Error).cause as Error | undefined; // fetch hides the socket error here
      throw new Error(`cannot reach ${base}: ${cause?.message ?? (err as Error).message}`);
    }
    if (!response.ok) throw new Error(`${response.status} ${await errorMessage(response)}`);
    return response;
  };
}

/** The OpenAI-shaped error's message, or the raw body when it is not one. */
async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    return text || response.statusText;
  }
}

/** Aligned columns, numbers right-aligned; missing values print as "-". */
function table(rows: Row[], columns: string[]): string {
  const cells = rows.map((row) => columns.map((c) => (row[c] === undefined || row[c] === null ? '-' : String(row[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((line) => line[i]!.length)));
  const numeric = columns.map((c) => rows.some((row) => typeof row[c] === 'number'));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(columns), ...cells.map(line)].join('\n')}\n`;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url); // npm's bin is a symlink
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await run(process.argv.slice(2));
