/**
 * One key store for authentication: the config's static keys first (no I/O), then the managed store.
 * The admin routes use it to list and look up both kinds; static keys stay read-only there.
 */
import type { ApiKeyRecord } from './api-key.js';
import { StaticKeyStore, type KeyStore, type ManagedKeyStore } from './key-store.js';

export class CombinedKeyStore implements KeyStore {
  private readonly staticStore: StaticKeyStore;
  private readonly staticById: Map<string, ApiKeyRecord>;

  constructor(readonly staticKeys: ApiKeyRecord[], readonly managed: ManagedKeyStore) {
    this.staticStore = new StaticKeyStore(staticKeys);
    this.staticById = new Map(staticKeys.map((r) => [r.id, r]));
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return (await this.staticStore.findByHash(keyHash)) ?? this.managed.findByHash(keyHash);
  }

  /** Static keys (`source: 'config'`) first, then the managed ones. */
  async list(): Promise<ApiKeyRecord[]> {
    return [...this.staticStore.list(), ...(await this.managed.list())];
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.staticById.get(id) ?? this.managed.get(id);
  }

  /** Config keys cannot be changed over the admin API: the file would restore them on restart. */
  isStatic(id: string): boolean {
    return this.staticById.has(id);
  }

  /** Closes the managed store too: whoever builds the combined store hands it ownership. */
  async close(): Promise<void> {
    await Promise.all([this.staticStore.close(), this.managed.close()]);
  }
}
