/**
 * Request ids: `req_` + a random per-process prefix + a counter. Unique across instances (the prefix)
 * and cheap on the hot path: no system entropy read per request.
 */
import { randomBytes } from 'node:crypto';

export function requestIdGenerator(): () => string {
  const prefix = `req_${randomBytes(8).toString('hex')}`;
  let counter = 0;
  return () => `${prefix}${(counter++).toString(16).padStart(8, '0')}`;
}
