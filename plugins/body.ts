/**
 * Request bodies are JSON whatever their content type (`curl -d` sends form encoding by default), and
 * their bytes are kept beside the parsed value: the proxy forwards the client's own bytes with only
 * the routed members changed (openai/json-members.ts), instead of serialising and encoding again.
 *
 * An empty (or blank) body is no body, as with no content type at all: many clients send
 * `Content-Type: application/json` on every request, a DELETE included. Routes that need a body then
 * answer their own 400. A body nesting arrays and objects deeper than MAX_JSON_DEPTH is refused
 * before parsing: serialising one (prompt estimate, upstream body, logs) recurses once per level and
 * overflows the stack some thousands of levels down.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { jsonTooDeep } from '../src/errors.js';
import { nestsDeeperThan, skipWhitespace, topLevelMembers, type JsonMember } from '../src/openai/json-scan.js';

/** Far deeper than any request needs (a tool's JSON schema nests a few dozen levels at most). */
const MAX_JSON_DEPTH = 128;

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received, when it was parsed as JSON. */
    jsonBytes: Buffer | null;
    /** Its top-level members, when it is an object (found in the same pass as the depth check). */
    jsonMembers: JsonMember[] | null;
  }
}

const body: FastifyPluginAsync = async (app) => {
  // Bodies are read field by field and forwarded as bytes; nothing merges them into other objects, so
  // a `__proto__` key is just data (JSON.parse makes it an own property). Skipping secure-json-parse's
  // two regex scans of every body ('ignore') matters for 100k-token prompts.
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore');
  const keepingBytes = (
    request: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const bytes = body as Buffer; // parseAs: 'buffer'
    if (skipWhitespace(bytes, 0) === bytes.length) return done(null, undefined);
    const top = topLevelMembers(bytes, MAX_JSON_DEPTH);
    // Not an object, or a walk that broke off before the end: the plain depth scan covers every byte.
    if (top?.tooDeep || (!top?.closed && nestsDeeperThan(bytes, MAX_JSON_DEPTH))) {
      return done(jsonTooDeep(MAX_JSON_DEPTH));
    }
    request.jsonBytes = bytes;
    request.jsonMembers = top?.closed ? top.members : null;
    parseJson(request, bytes.toString('utf8'), done);
  };
  app.decorateRequest('jsonBytes', null);
  app.decorateRequest('jsonMembers', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, keepingBytes);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, keepingBytes);
};

export default fp(body, { name: 'tollgate-body' });
