/**
 * GET /admin/usage: usage rows filtered by key, team or model over UTC days, grouped by any of
 * hour (or day), model, key and team, as JSON or CSV. Rows grouped by key also carry the key's name and
 * team, as they are now (a key no longer known shows its id, with null name and team). Registered by
 * the admin routes, behind the admin token check (plugins/admin-auth.ts). (docs/contract.md §13)
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { invalidDateRange } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import type { CombinedKeyStore } from '../keys/combined-key-store.js';
import { USAGE_ROW_COUNTERS, type UsageGrouping, type UsageRow, type UsageStore } from '../usage/usage-store.js';
import { parseInput } from './admin-input.js';

export interface AdminUsageOptions {
  usage: UsageStore;
  /** Resolves `team` to the ids of its keys, and key ids to their names and teams. */
  keys: CombinedKeyStore;
}

const GROUPINGS = ['hour', 'day', 'model', 'key', 'team'] as const satisfies UsageGrouping[];

/** A usage row as this API shows it: grouped by key, with the key's name and team. */
type AdminUsageRow = UsageRow & { keyName?: string | null };

/**
 * The dimension columns, in the order of a row's members and of the CSV's columns, each with the
 * groupings that show it; the counters (USAGE_ROW_COUNTERS) follow.
 */
const DIMENSION_COLUMNS = [
  ['hour', ['hour']],
  ['day', ['day']],
  ['keyId', ['key']],
  ['keyName', ['key']],
  ['team', ['key', 'team']],
  ['model', ['model']],
] as const satisfies [keyof AdminUsageRow, UsageGrouping[]][];

const querySchema = z.strictObject({
  keyId: z.string().min(1).optional(),
  team: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
  groupBy: z
    .string()
    .transform((list) => list.split(',').map((g) => g.trim()).filter(Boolean))
    .pipe(
      z
        .array(z.enum(GROUPINGS))
        .refine((list) => !(list.includes('hour') && list.includes('day')), 'hour and day cannot be grouped together'),
    )
    .optional(),
  format: z.enum(['json', 'csv']).optional(),
});

const adminUsageRoutes: FastifyPluginAsync<AdminUsageOptions> = async (app, { usage, keys }) => {
  app.get('/usage', async (request, reply) => {
    const query = parseInput(querySchema, request.query);
    const groupBy = [...new Set(query.groupBy ?? [])];
    const { from, to } = dateRange(query, groupBy.includes('hour'));
    if (from > to) throw invalidDateRange(`from (${from}) is after to (${to})`);
    const needsKeys = query.team !== undefined || groupBy.includes('key') || groupBy.includes('team');
    const records = await keyRecords(keys, needsKeys);
    const keyIds = keyIdsFor(records, query.keyId, query.team);
    const teamOf = (keyId: string) => records.get(keyId)?.team;
    const found = await usage.query({ from, to, keyIds, model: query.model, groupBy, teamOf }).catch(rejectRange);
    const rows = found.map((row) => shown(row, records));
    if (query.format === 'csv') return reply.type('text/csv; charset=utf-8').send(toCsv(rows, groupBy));
    return { data: rows };
  });
};

export default adminUsageRoutes;

/** Every key by id, when the query needs them (team filter, key or team grouping); none otherwise. */
async function keyRecords(keys: CombinedKeyStore, needed: boolean): Promise<Map<string, ApiKeyRecord>> {
  return new Map(needed ? (await keys.list()).map((record) => [record.id, record]) : []);
}

/** undefined: every key. A team resolves to its keys; `[]` (no key) matches no usage. */
function keyIdsFor(records: Map<string, ApiKeyRecord>, keyId?: string, team?: string): string[] | undefined {
  if (team === undefined) return keyId === undefined ? undefined : [keyId];
  const ids = [...records.values()].filter((r) => r.team === team).map((r) => r.id);
  return keyId === undefined ? ids : ids.filter((id) => id === keyId);
}

/** The row with its key's name and team beside its id when grouped by key, members in DIMENSION_COLUMNS order. */
function shown(row: UsageRow, records: Map<string, ApiKeyRecord>): AdminUsageRow {
  if (row.keyId === undefined) return row;
  const { hour, day, keyId, team: _resolvedBelow, model, ...counters } = row;
  const record = records.get(keyId);
  return {
    ...(hour !== undefined && { hour }),
    ...(day !== undefined && { day }),
    keyId,
    keyName: record?.name ?? null,
    team: record?.team ?? null,
    ...(model !== undefined && { model }),
    ...counters,
  };
}

/** The stores refuse impossible ranges (beyond retention) with a RangeError: the caller's mistake, a 400. */
function rejectRange(err: unknown): never {
  if (err instanceof RangeError) throw invalidDateRange(err.message, err);
  throw err;
}

/**
 * The query's days, defaults filled in: the current UTC month; grouped by hour (whose cells are kept
 * only a few days), `to` defaults to today and `from` to `to`.
 */
function dateRange(query: { from?: string; to?: string }, hourly: boolean, now = new Date()) {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  if (hourly) {
    const to = query.to ?? day(now);
    return { from: query.from ?? to, to };
  }
  const [year, month] = [now.getUTCFullYear(), now.getUTCMonth()];
  return {
    from: query.from ?? day(new Date(Date.UTC(year, month, 1))),
    to: query.to ?? day(new Date(Date.UTC(year, month + 1, 0))),
  };
}

/** RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted; null and absent are empty. */
function toCsv(rows: AdminUsageRow[], groupBy: UsageGrouping[]): string {
  const columns = [
    ...DIMENSION_COLUMNS.filter(([, shownBy]) => shownBy.some((g) => groupBy.includes(g))).map(([column]) => column),
    ...USAGE_ROW_COUNTERS,
  ];
  const field = (value: unknown) => {
    const text = value === undefined || value === null ? '' : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.join(','), ...rows.map((row) => columns.map((column) => field(row[column])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
