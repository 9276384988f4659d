/** Managed keys in process memory: for a single instance without Redis, and for tests. */
import type { ApiKeyRecord } from './api-key.js';
import { applyPatch, newKeyRecord, type KeyPatch, type ManagedKeyStore, type NewKey } from './key-store.js';

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
