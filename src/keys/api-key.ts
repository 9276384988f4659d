/**
 * tollgate keys: `sk-tg-` + base62 randomness. Only their SHA-256 is ever stored or compared, so a
 * leaked store or config file does not leak usable keys.
 */
import { hash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'sk-tg-';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 32 random bytes ≈ 43 base62 characters: 256 bits, beyond guessing. */
const KEY_RANDOM_BYTES = 32;

/** A key as the gateway knows it: never the plaintext. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  tier: string;
  team?: string;
  /** Model aliases this key may use; undefined means all. */
  models?: string[];
  /** USD per calendar month (UTC). */
  budgetUsd?: number;
  expiresAt?: string;
  createdAt: string;
  revokedAt?: string;
  /** Static keys come from the config file and are read-only over the admin API. */
  source: 'config' | 'admin';
  keyHash: string;
}

/** One-shot crypto.hash: half the cost of createHash().update().digest(), and it runs on every request. */
export function hashKey(plaintext: string): string {
  return `sha256:${hash('sha256', plaintext)}`;
}

export function generateKey(): string {
  const bytes = randomBytes(KEY_RANDOM_BYTES);
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return KEY_PREFIX + out.padStart(43, '0');
}

/** A record may be used now: not revoked, not expired. */
export function isKeyActive(record: ApiKeyRecord, now = Date.now()): boolean {
  if (record.revokedAt) return false;
  return !record.expiresAt || Date.parse(record.expiresAt) > now;
}

/** Static key ids are derived from the hash so they stay stable across restarts and instances. */
export function staticKeyId(keyHash: string): string {
  return `key_cfg_${keyHash.slice('sha256:'.length, 'sha256:'.length + 16)}`;
}
