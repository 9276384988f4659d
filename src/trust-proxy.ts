/**
 * `server.trustProxy`: which peers' X-Forwarded-For tollgate believes when it decides a client's
 * address (the per-IP guard keys on it). Passed to Fastify's `trustProxy` as is.
 *
 * - false (default): the socket's address; the header is ignored, so a client cannot pick its own.
 * - true: every hop; only safe when the one proxy in front overwrites the header.
 * - addresses, CIDRs, or proxy-addr's names `loopback`, `linklocal`, `uniquelocal` (private ranges),
 *   as a list or a comma-separated string (the form an environment variable gives).
 *
 * A hop count is not offered: Fastify 5 cannot check the peer against it and ignores the header.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An address, a named range, `address/prefix-length` or `address/netmask`, as proxy-addr compiles them. */
export function isTrustedProxyEntry(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', range, ...extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(range) === 4;
}

/** Environment strings: '' and 'false' mean off, 'true' every hop, anything else a comma-separated list. */
function fromString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  return text.split(',').map((entry) => entry.trim()).filter(Boolean);
}

export const trustProxySchema = z.preprocess(
  fromString,
  z
    .union([z.boolean(), z.array(z.string())])
    .superRefine((value, ctx) => {
      for (const entry of Array.isArray(value) ? value : []) {
        if (!isTrustedProxyEntry(entry)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${entry}" is not an IP address, CIDR or loopback/linklocal/uniquelocal`,
          });
        }
      }
    })
    .transform((value) => (Array.isArray(value) && value.length === 0 ? false : value)),
);
