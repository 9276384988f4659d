/**
 * GET /v1/me: what a key holder may want to know without asking an operator: its tier and limits,
 * the models it may use, its usage this UTC month and what is left of its budget.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.js';

const meRoutes: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  app.get('/me', async (request) => {
    const key = request.principal!;
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const [totals] = await app.usage.store.query({
      from: `${month}-01`,
      to: now.toISOString().slice(0, 10),
      keyIds: [key.id],
    });
    const spentUsd = await app.usage.monthlySpend(key.id, now);
    return {
      object: 'tollgate.key',
      id: key.id,
      name: key.name,
      team: key.team ?? null,
      tier: key.tier,
      limits: config.tiers[key.tier] ?? {},
      models: key.models ?? Object.keys(config.models),
      expiresAt: key.expiresAt ?? null,
      usageThisMonth: { month, ...totals },
      budget:
        key.budgetUsd === undefined
          ? null
          : { monthlyUsd: key.budgetUsd, spentUsd, remainingUsd: Math.max(0, key.budgetUsd - spentUsd) },
    };
  });
};

export default meRoutes;
