/**
 * Managed keys in process memory: for a single instance without Redis, and for tests. Also holds the
 * record-building rules both managed stores share, so they cannot drift apart.
 */
import { randomBytes } from 'node:crypto';
import { generateKey, hashKey, type ApiKeyRecord } from './api-key.js';
import type { KeyPatch, ManagedKeyStore, NewKey } from './key-store.js';

/** 6 random bytes as hex: 12 characters, plenty for keys created by hand. */
export function newKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

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

export const PATCHABLE_FIELDS = ['name', 'tier', 'team', 'models', 'budgetUsd', 'expiresAt'] as const satisfies (keyof KeyPatch)[];

function withoutUndefined(record: ApiKeyRecord): ApiKeyRecord {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as unknown as ApiKeyRecord;
}

export class MemoryKeyStore implements ManagedKeyStore {
  private readonly byId = new Map<string, ApiKeyRecord>();
  private readonly idByHash = new Map<string, string>();

  async create(input: NewKey): Promise<{ record: ApiKeyRecord; plaintext: string }> {
    const created = newKeyRecord(input);
    this.byId.set(created.record.id, created.record);
    this.idByHash.set(created.record.keyHash, created.record.id);
    return { record: structuredClone(created.record), plaintext: created.plaintext };
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const id = this.idByHash.get(keyHash);
    return id === undefined ? undefined : this.get(id);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.byId.values()].map((r) => structuredClone(r));
  }

  // Copies out so a caller mutating a record cannot change the store behind its back.
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const record = this.byId.get(id);
    return record && structuredClone(record);
  }

  async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
    const record = this.byId.get(id);
    if (!record) return undefined;
    this.byId.set(id, applyPatch(record, patch));
    return this.get(id);
  }

  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    const record = this.byId.get(id);
    if (!record) return undefined;
    record.revokedAt ??= new Date().toISOString();
    return this.get(id);
  }

  async close(): Promise<void> {}
}
