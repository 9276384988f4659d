/**
 * Request bodies are JSON whatever their content type (`curl -d` sends form encoding by default), and
 * their bytes are kept beside the parsed value: the proxy forwards the client's own bytes with only
 * the routed members changed (upstream/json-members.ts), instead of serialising and encoding again.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received, when it was parsed as JSON. */
    jsonBytes: Buffer | null;
  }
}

export function parseBodiesAsJson(app: FastifyInstance): void {
  // Bodies are read field by field and forwarded as bytes; nothing merges them into other objects, so
  // a `__proto__` key is just data (JSON.parse makes it an own property). Skipping secure-json-parse's
  // two regex scans of every body ('ignore') matters for 100k-token prompts.
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore');
  const keepingBytes = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const bytes = body as Buffer; // parseAs: 'buffer'
    request.jsonBytes = bytes;
    parseJson(request, bytes.toString('utf8'), done);
  };
  app.decorateRequest('jsonBytes', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, keepingBytes);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, keepingBytes);
}
