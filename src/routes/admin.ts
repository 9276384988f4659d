/**
 * Admin API, registered under /admin beside plugins/admin-auth.ts (the admin token check): keys and
 * usage. No response carries a key hash; the plaintext appears once, in the 201 of POST /keys.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { keyNotFound, keyReadOnly } from '../errors.js';
import { isKeyActive, type ApiKeyRecord } from '../keys/api-key.js';
import type { CombinedKeyStore } from '../keys/combined-key-store.js';
import type { UsageStore } from '../usage/usage-store.js';
import { parseInput } from './admin-input.js';
import adminUsageRoutes from './admin-usage.js';

export interface AdminOptions {
  /** Config keys are listed with `source: 'config'` and read-only here; managed keys are editable. */
  keys: CombinedKeyStore;
  usage: UsageStore;
  tiers: string[];
  models: string[];
}

type IdParams = { Params: { id: string } };

const admin: FastifyPluginAsync<AdminOptions> = async (app, opts) => {
  const { keys } = opts;
  const schemas = keySchemas(opts.tiers, opts.models);

  app.post('/keys', async (request, reply) => {
    const { record, plaintext } = await keys.managed.create(parseInput(schemas.create, request.body));
    const { id, ...shown } = view(record);
    return reply.code(201).send({ id, key: plaintext, ...shown });
  });

  app.get('/keys', async () => ({ data: (await keys.list()).map(view) }));

  app.get<IdParams>('/keys/:id', async (request) => view(found(await keys.get(request.params.id), request.params.id)));

  app.patch<IdParams>('/keys/:id', async (request) => {
    const { id } = writable(keys, request.params.id);
    const patch = parseInput(schemas.patch, request.body);
    // JSON null clears an optional field: the stores read a present-but-undefined field that way.
    const cleared = Object.fromEntries(Object.entries(patch).map(([field, value]) => [field, value ?? undefined]));
    return view(found(await keys.managed.update(id, cleared), id));
  });

  app.delete<IdParams>('/keys/:id', async (request) => {
    const { id } = writable(keys, request.params.id);
    return view(found(await keys.managed.revoke(id), id));
  });

  await app.register(adminUsageRoutes, { usage: opts.usage, keys });
};

export default admin;

function keySchemas(tiers: string[], models: string[]) {
  const known = (kind: string, values: string[]) =>
    z.enum(values, {
      error: (issue) =>
        `unknown ${kind} ${JSON.stringify(issue.input)}; configured: ${values.join(', ') || '(none)'}`,
    });
  const expiresAt = z.iso
    .datetime({ offset: true })
    .or(z.iso.date())
    .transform((value) => new Date(value).toISOString());
  const fields = {
    name: z.string().trim().min(1).max(200),
    tier: known('tier', tiers),
    team: z.string().trim().min(1).max(200),
    models: z.array(known('model', models)),
    budgetUsd: z.number().nonnegative(),
    expiresAt,
  };
  const create = z.strictObject({
    ...fields,
    team: fields.team.optional(),
    models: fields.models.optional(),
    budgetUsd: fields.budgetUsd.optional(),
    expiresAt: fields.expiresAt.optional(),
  });
  const patch = z.strictObject({
    name: fields.name.optional(),
    tier: fields.tier.optional(),
    team: fields.team.nullable().optional(),
    models: fields.models.nullable().optional(),
    budgetUsd: fields.budgetUsd.nullable().optional(),
    expiresAt: fields.expiresAt.nullable().optional(),
  });
  return { create, patch };
}

/** What the API shows of a key: never its hash. */
function view(record: ApiKeyRecord) {
  const { keyHash: _hidden, ...shown } = record;
  const status = record.revokedAt ? 'revoked' : isKeyActive(record) ? 'active' : 'expired';
  return { ...shown, status };
}

function found(record: ApiKeyRecord | undefined, id: string): ApiKeyRecord {
  if (record) return record;
  throw keyNotFound(id);
}

function writable(keys: CombinedKeyStore, id: string): { id: string } {
  if (!keys.isStatic(id)) return { id };
  throw keyReadOnly(id);
}
