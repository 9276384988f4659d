/**
 * Where the gateway looks keys up. Static keys from the config always resolve; keys created over the
 * admin API live in a store (Redis, or memory without Redis). Also holds the record-building rules
 * both managed stores share, so they cannot drift apart.
 */
import { randomBytes } from 'node:crypto';
import { generateKey, hashKey, type ApiKeyRecord } from './api-key.js';

export interface KeyStore {
  /** Hot path: every proxied request calls this once. */
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  close(): Promise<void>;
}

/** Looks in a fixed set of records (the config's static keys). */
export class StaticKeyStore implements KeyStore {
  private readonly byHash: Map<string, ApiKeyRecord>;

  constructor(records: ApiKeyRecord[]) {
    this.byHash = new Map(records.map((r) => [r.keyHash, r]));
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.byHash.get(keyHash);
  }

  list(): ApiKeyRecord[] {
    return [...this.byHash.values()];
  }

  async close(): Promise<void> {}
}

/** What an operator sets on a key; the rest of ApiKeyRecord is the gateway's. */
export type NewKey = Pick<ApiKeyRecord, 'name' | 'tier' | 'team' | 'models' | 'budgetUsd' | 'expiresAt'>;

export type KeyPatch = Partial<NewKey>;

/** Keys created over the admin API. The plaintext is returned once by `create` and never stored. */
export interface ManagedKeyStore extends KeyStore {
  create(input: NewKey): Promise<{ record: ApiKeyRecord; plaintext: string }>;
  list(): Promise<ApiKeyRecord[]>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined>;
  /** Marks the key revoked; every instance refuses it within one second (docs/contract.md §3.1). */
  revoke(id: string): Promise<ApiKeyRecord | undefined>;
}

/** What a patch may touch: the operator's fields of a record. */
export const PATCHABLE_FIELDS = [
  'name', 'tier', 'team', 'models', 'budgetUsd', 'expiresAt',
] as const satisfies (keyof KeyPatch)[];

/** A fresh record and its plaintext; the caller stores the record and hands the plaintext out once. */
export function newKeyRecord(input: NewKey, now = new Date()): { record: ApiKeyRecord; plaintext: string } {
  const plaintext = generateKey();
  const record: ApiKeyRecord = {
    id: newKeyId(),
    name: input.name,
    tier: input.tier,
    team: input.team,
    models: input.models,
    budgetUsd: input.budgetUsd,
    expiresAt: input.expiresAt,
    createdAt: now.toISOString(),
    source: 'admin',
    keyHash: hashKey(plaintext),
  };
  return { record: withoutUndefined(record), plaintext };
}

/**
 * Applies a patch. A field present with the value `undefined` clears it (the admin API maps JSON
 * `null` to that); `name` and `tier` cannot be cleared. Never touches `revokedAt`: revocation sticks.
 */
export function applyPatch(record: ApiKeyRecord, patch: KeyPatch): ApiKeyRecord {
  const next: Record<string, unknown> = { ...record };
  // Only the patchable fields, picked by name: a stray `revokedAt` or `keyHash` is never copied in.
  for (const field of PATCHABLE_FIELDS) {
    if (Object.hasOwn(patch, field)) next[field] = patch[field];
  }
  next.name ??= record.name;
  next.tier ??= record.tier;
  return withoutUndefined(next as unknown as ApiKeyRecord);
}

/** 6 random bytes as hex: 12 characters, plenty for keys created by hand. */
function newKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

function withoutUndefined(record: ApiKeyRecord): ApiKeyRecord {
  const defined = Object.entries(record).filter(([, v]) => v !== undefined);
  return Object.fromEntries(defined) as unknown as ApiKeyRecord;
}
