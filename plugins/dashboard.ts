/**
 * GET /dashboard/*: the operators' dashboard, static files from memory (src/dashboard/assets.ts).
 * Registered by src/app.ts only when an admin token is configured; the pages hold no secret and call
 * the admin API with the token the operator types in, so serving them needs no authentication.
 *
 * Every answer says `cache-control: no-cache` with a strong ETag: file names carry no version, so a
 * browser revalidates (a 304 when unchanged) and never runs last release's script against this API.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { loadDashboardAssets } from '../src/dashboard/assets.js';
import { notFound } from '../src/errors.js';

/**
 * The pages load only their own files and talk only to their own origin; nothing may frame them (the
 * sign-in form would be clickjackable) and no referrer leaves with a link.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const dashboard: FastifyPluginAsync = async (app) => {
  const assets = loadDashboardAssets();

  // Without the slash, the pages' relative URLs would resolve against the parent folder. The relative
  // Location keeps whatever path prefix a proxy in front added.
  app.get('/dashboard', async (_request, reply) => reply.redirect('dashboard/', 308));

  app.get<{ Params: { '*': string } }>('/dashboard/*', async (request, reply) => {
    const path = request.params['*'] || 'index.html';
    const asset = assets.get(path);
    if (!asset) throw notFound(request.method, request.url);
    reply.headers({
      ...SECURITY_HEADERS,
      'content-type': asset.contentType,
      'cache-control': 'no-cache',
      etag: asset.etag,
      vary: 'accept-encoding',
    });
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    if (asset.gzipped && acceptsGzip(request)) return reply.header('content-encoding', 'gzip').send(asset.gzipped);
    return reply.send(asset.body);
  });
};

export default dashboard;

/** `gzip` listed, and not refused with `;q=0`. */
function acceptsGzip(request: FastifyRequest): boolean {
  return /\bgzip\b(?!\s*;\s*q=0(?:\.0*)?(?![.\d]))/.test(request.headers['accept-encoding'] ?? '');
}
