/**
 * Waiting out a cache TTL instead of timing how soon a change shows. A test notes Date.now() (the
 * clock the caches use) before it makes a change; every entry cached before that expires by
 * `since + ttlMs`, so a lookup after it must see the change. A slow machine only waits longer.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once Date.now() is past `since + ttlMs`. A timer alone may fire a millisecond early. */
export async function pastTtl(since: number, ttlMs: number): Promise<void> {
  const deadline = since + ttlMs;
  while (Date.now() <= deadline) await sleep(deadline - Date.now() + 1);
}
