/** Turns the config file's `keys` into records; entries whose key resolved to empty are skipped. */
import type { StaticKeyConfig } from '../config.js';
import { hashKey, staticKeyId, type ApiKeyRecord } from './api-key.js';

export interface StaticKeys {
  records: ApiKeyRecord[];
  /** Names of entries skipped because neither `key` nor `keyHash` was set (e.g. an unset env var). */
  skipped: string[];
}

export function loadStaticKeys(entries: StaticKeyConfig[], loadedAt = new Date().toISOString()): StaticKeys {
  const records: ApiKeyRecord[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    const keyHash = entry.keyHash ?? (entry.key !== undefined ? hashKey(entry.key) : undefined);
    if (!keyHash) {
      skipped.push(entry.name);
      continue;
    }
    records.push({
      id: staticKeyId(keyHash),
      name: entry.name,
      tier: entry.tier,
      team: entry.team,
      models: entry.models,
      budgetUsd: entry.budgetUsd,
      expiresAt: entry.expiresAt,
      createdAt: loadedAt,
      source: 'config',
      keyHash,
    });
  }
  return { records, skipped };
}
