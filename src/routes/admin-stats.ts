/**
 * GET /admin/stats: the key refusals (429s by rpm, rpd, tpm, tpd and budget) and failed upstream
 * attempts (by provider and cause) of this instance since it started, for the dashboard's shares.
 * Read from this instance's own metrics counters (tollgate_rate_limit_rejections_total,
 * tollgate_upstream_errors_total, docs/contract.md §14.1): per instance, since its start, so a
 * restart starts from zero and several instances each answer for themselves (Prometheus sums them).
 * Registered under /admin, behind the admin token check (plugins/admin-auth.ts).
 *
 *   { "since": "<ISO time>", "refusals": { "rpm": n, "rpd": n, "tpm": n, "tpd": n, "budget": n },
 *     "upstreamFailures": [{ "provider": "...", "cause": "...", "count": n }] }
 *
 * upstreamFailures lists each provider and cause seen (`cause`: an HTTP status, a network error code,
 * `body_cut` or `invalid_json`), sorted by provider, then cause.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayMetrics } from '../observability/metrics.js';

export interface AdminStatsOptions {
  metrics: GatewayMetrics;
}

const REFUSAL_REASONS = ['rpm', 'rpd', 'tpm', 'tpd', 'budget'] as const;

export interface InstanceStats {
  since: string;
  refusals: Record<(typeof REFUSAL_REASONS)[number], number>;
  upstreamFailures: { provider: string; cause: string; count: number }[];
}

const adminStatsRoutes: FastifyPluginAsync<AdminStatsOptions> = async (app, { metrics }) => {
  app.get('/stats', async (): Promise<InstanceStats> => {
    const [rejections, failures] = await Promise.all([metrics.rateLimited.get(), metrics.upstreamErrors.get()]);
    const refusals = Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as InstanceStats['refusals'];
    for (const { labels, value } of rejections.values) {
      if (labels.dimension !== undefined && labels.dimension in refusals) {
        refusals[labels.dimension as keyof typeof refusals] += value;
      }
    }
    const upstreamFailures = failures.values
      .map(({ labels, value }) => ({ provider: String(labels.provider), cause: String(labels.cause), count: value }))
      .sort((a, b) => compare(a.provider, b.provider) || compare(a.cause, b.cause));
    return { since: metrics.since.toISOString(), refusals, upstreamFailures };
  });
};

export default adminStatsRoutes;

/** Code-point order: the same on every instance. */
const compare = (a: string, b: string): number => (a === b ? 0 : a < b ? -1 : 1);
