/** Shared-secret checks for the admin API and /metrics. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of a presented `Authorization: Bearer` token (hashing first equalises the lengths). */
export function bearerMatches(authorization: string | undefined, expected: string): boolean {
  const presented = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
