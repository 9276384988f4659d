/**
 * Where the gateway looks keys up. Static keys from the config always resolve; keys created over the
 * admin API live in a store (Redis, or memory without Redis).
 */
import type { ApiKeyRecord } from './api-key.js';

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
  /** Marks the key revoked; every instance refuses it within one second. */
  revoke(id: string): Promise<ApiKeyRecord | undefined>;
}
