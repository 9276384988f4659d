/**
 * pino settings. Secrets never reach a log line: every place a credential can sit in what tollgate logs
 * is redacted, in case an error object or a debug line ever carries headers or config.
 *
 * Every path starts at a named root. A path starting with a wildcard (`*.apiKey`) makes pino walk and
 * copy every logged object, which costs the request line several times what writing it does. Rooted
 * paths cost nothing when their root is absent.
 *
 * Provider keys can also sit inside a value (an upstream's error message that echoes the key), which no
 * path can name, so every finished line also goes through the provider-key redactor.
 */
import type { FastifyServerOptions } from 'fastify';
import type { LoggerOptions } from 'pino';
import type { SecretRedactor } from './upstream/secret-redactor.js';

/** Path suffixes of the credential headers (pino's bracket syntax for names with a dash). */
const CREDENTIAL_HEADERS = ['.authorization', '["api-key"]', '["x-api-key"]'];
/** Where request or upstream headers can appear: Fastify's req serializer, our own objects, errors and their causes. */
const HEADER_ROOTS = ['req.headers', 'headers', 'err.headers', 'err.cause.headers', 'upstream.headers'];

export const REDACTED_PATHS = [
  ...HEADER_ROOTS.flatMap((root) => CREDENTIAL_HEADERS.map((header) => `${root}${header}`)),
  // Provider credentials: a provider's config, alone or inside the whole config.
  'apiKey',
  'provider.apiKey',
  'providers.*.apiKey',
  'config.providers.*.apiKey',
  // Admin and metrics tokens, and keys as the admin API creates them.
  'token',
  'admin.token',
  'metrics.token',
  'config.admin.token',
  'config.metrics.token',
  'plaintextKey',
  'key.plaintextKey',
];

export function loggerOptions(level: LoggerOptions['level'], providerKeys?: SecretRedactor): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(providerKeys && !providerKeys.empty && { hooks: { streamWrite: (line: string) => providerKeys.redact(line) } }),
  };
}

/**
 * Fastify's per-request logger factory for a level. At `silent` no line is ever written (the level is
 * fixed at start-up), so every request shares the app's logger instead of getting a pino child, whose
 * creation serialises its bindings: a few µs per request spent on lines that never exist. Any other
 * level keeps Fastify's default (each line carries its reqId).
 */
export function childLoggerFactory(level: LoggerOptions['level']): FastifyServerOptions['childLoggerFactory'] {
  return level === 'silent' ? (logger) => logger : undefined;
}
