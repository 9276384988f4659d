/**
 * GET /admin/usage: usage rows filtered by key, team or model over UTC days, grouped by any of
 * day/model/key, as JSON or CSV. Registered by the admin routes, behind the admin token check (plugins/admin-auth.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { invalidDateRange } from '../errors.js';
import type { CombinedKeyStore } from '../keys/combined-key-store.js';
import { USAGE_ROW_COUNTERS, type UsageGrouping, type UsageRow, type UsageStore } from '../usage/usage-store.js';
import { parseInput } from './admin-input.js';

export interface AdminUsageOptions {
  usage: UsageStore;
  /** Resolves `team` to the ids of its keys. */
  keys: CombinedKeyStore;
}

const GROUPINGS = ['day', 'model', 'key'] as const satisfies UsageGrouping[];
/** CSV columns: the grouping columns in this order, then the counters. */
const GROUP_COLUMNS = [['day', 'day'], ['key', 'keyId'], ['model', 'model']] as const;

const querySchema = z.strictObject({
  keyId: z.string().min(1).optional(),
  team: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
  groupBy: z
    .string()
    .transform((list) => list.split(',').map((g) => g.trim()).filter(Boolean))
    .pipe(z.array(z.enum(GROUPINGS)))
    .optional(),
  format: z.enum(['json', 'csv']).optional(),
});

const adminUsageRoutes: FastifyPluginAsync<AdminUsageOptions> = async (app, { usage, keys }) => {
  /** undefined: every key. A team resolves to its keys; `[]` (no key) matches no usage. */
  const keyIdsFor = async (keyId?: string, team?: string): Promise<string[] | undefined> => {
    if (team === undefined) return keyId === undefined ? undefined : [keyId];
    const ids = (await keys.list()).filter((r) => r.team === team).map((r) => r.id);
    return keyId === undefined ? ids : ids.filter((id) => id === keyId);
  };

  app.get('/usage', async (request, reply) => {
    const query = parseInput(querySchema, request.query);
    const month = currentUtcMonth();
    const from = query.from ?? month.from;
    const to = query.to ?? month.to;
    if (from > to) throw invalidDateRange(`from (${from}) is after to (${to})`);
    const groupBy = [...new Set(query.groupBy ?? [])];
    const keyIds = await keyIdsFor(query.keyId, query.team);
    const rows = await usage.query({ from, to, keyIds, model: query.model, groupBy }).catch(rejectRange);
    if (query.format === 'csv') return reply.type('text/csv; charset=utf-8').send(toCsv(rows, groupBy));
    return { data: rows };
  });
};

export default adminUsageRoutes;

/** The stores refuse impossible ranges (beyond retention) with a RangeError: the caller's mistake, a 400. */
function rejectRange(err: unknown): never {
  if (err instanceof RangeError) throw invalidDateRange(err.message, err);
  throw err;
}

function currentUtcMonth(now = new Date()): { from: string; to: string } {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const [year, month] = [now.getUTCFullYear(), now.getUTCMonth()];
  return { from: day(new Date(Date.UTC(year, month, 1))), to: day(new Date(Date.UTC(year, month + 1, 0))) };
}

/** RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted. */
function toCsv(rows: UsageRow[], groupBy: UsageGrouping[]): string {
  const columns = [
    ...GROUP_COLUMNS.filter(([g]) => groupBy.includes(g)).map(([, column]) => column),
    ...USAGE_ROW_COUNTERS,
  ];
  const field = (value: unknown) => {
    const text = value === undefined ? '' : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.join(','), ...rows.map((row) => columns.map((column) => field(row[column])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
