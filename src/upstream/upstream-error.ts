/**
 * An upstream's error answer as the client will see it: always OpenAI's envelope, whatever shape the
 * upstream used (`{"error": {...}}`, `{"error": "..."}`, `{"detail": ...}`, `{"message": "..."}`, plain
 * text or HTML), its message redacted of provider keys and bounded in length; and the errors of an
 * upstream that refused the gateway's credential, redirected, or could not be reached. Proxied
 * requests (forward.ts) and calls on stored responses (stored-response-call.ts) share them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { upstreamError, upstreamTimeout, upstreamUnavailable, type GatewayError } from '../errors.js';
import type { SecretRedactor } from './secret-redactor.js';
import { isJsonObject } from '../openai/json-object.js';

/** Error bodies are read up to this size: their message is relayed, the rest is not needed. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);
/** Long enough for any real error message; an HTML error page is cut. */
const MAX_MESSAGE_CHARS = 500;
/**
 * Retry hints, so the SDKs back off as the upstream asked, and the upstream's request id (for its support):
 * the headers the SDK reads on an error (docs/wire.md §7.3, §8.3, §10.1).
 */
const RELAYED_HEADERS = ['retry-after', 'retry-after-ms', 'x-should-retry', 'x-request-id'];
/** OpenAI names the provider's organization in 429 messages; that is not the client's business. */
const ORGANIZATION_MENTION = / in organization [\w-]+/g;

export interface UpstreamErrorText {
  message: string;
  type?: string;
  code?: string;
  param?: string;
}

/** The message and fields of an upstream error body, redacted and bounded; undefined for an empty body. */
export function readUpstreamError(body: Buffer, providerKeys: SecretRedactor): UpstreamErrorText | undefined {
  const parsed = parseErrorBody(body.toString('utf8').trim());
  if (!parsed) return undefined;
  // Redacted before it is cut, so a cut never leaves a piece of a key too short to be recognised.
  const message = providerKeys.redact(parsed.message).replace(ORGANIZATION_MENTION, '').replace(/\s+/g, ' ').trim();
  const clean = (field: string | undefined) => (field === undefined ? undefined : providerKeys.redact(field));
  return {
    message: message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}…` : message,
    type: clean(parsed.type),
    code: clean(parsed.code),
    param: clean(parsed.param),
  };
}

/** The upstream's error for the client, with its status, retry hints and request id. */
export function relayedUpstreamError(
  status: number,
  text: UpstreamErrorText | undefined,
  headers: IncomingHttpHeaders,
): GatewayError {
  // A typeless 429 gets 'rate_limit_exceeded', departing from OpenAI's own 'requests' / 'tokens': which
  // bucket the upstream meant is unknown (docs/wire.md §7.4).
  const fallbackType =
    status === 429 ? 'rate_limit_exceeded' : status < 500 ? 'invalid_request_error' : 'server_error';
  const relayedHeaders = Object.fromEntries(
    RELAYED_HEADERS.filter((name) => typeof headers[name] === 'string').map((name) => [
      name,
      headers[name] as string,
    ]),
  );
  return upstreamError(status, text?.message || `Upstream error ${status}.`, {
    type: text?.type ?? fallbackType,
    code: text?.code ?? null,
    param: text?.param ?? null,
    headers: relayedHeaders,
  });
}

function parseErrorBody(text: string): UpstreamErrorText | undefined {
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: text };
  }
  if (!isJsonObject(json)) return { message: text };
  const { error, detail } = json;
  if (isJsonObject(error)) {
    const message = stringOf(error.message) ?? JSON.stringify(error);
    return { message, type: stringOf(error.type), code: stringOf(error.code), param: stringOf(error.param) };
  }
  if (typeof error === 'string') return { message: error, type: stringOf(json.type), code: stringOf(json.code) };
  if (detail !== undefined) return { message: typeof detail === 'string' ? detail : JSON.stringify(detail) };
  return { message: stringOf(json.message) ?? text, code: stringOf(json.code) };
}

/** Strings as they are; numeric codes (some upstreams send `"code": 404`) as text. */
function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : undefined;
}

/** An error answer's body, up to MAX_ERROR_BODY_BYTES; the body is destroyed after. */
export async function readErrorBody(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ERROR_BODY_BYTES) break;
      chunks.push(chunk);
    }
  } catch {
    // A broken error body still gets its status; what was read is enough for its message.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}

/** A 401/403: about the gateway's credential, not the client's request, so never relayed (docs/contract.md §11). */
export function credentialRefused(providerName: string): GatewayError {
  return upstreamUnavailable(
    `The upstream provider "${providerName}" refused the gateway's credential. ` +
      'The operator has been notified in the logs.',
  );
}

/** undici does not follow redirects; one from an API endpoint means a wrong baseUrl. */
export function redirected(status: number): UpstreamErrorText {
  return { message: `Upstream answered ${status} (a redirect); check the provider's baseUrl.` };
}

/** A connection that failed: 504 when it timed out before the headers, else 502. */
export function unreachable(providerName: string, err: unknown): { error: GatewayError; code: string } {
  const code = (err as { code?: string }).code ?? (err as Error).name ?? 'UNKNOWN';
  const message = `Upstream provider "${providerName}" could not be reached (${code}).`;
  const error = TIMEOUT_CODES.has(code) ? upstreamTimeout(message, err) : upstreamUnavailable(message, err);
  return { error, code };
}
