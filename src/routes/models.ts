/**
 * GET /v1/models and /v1/models/:id: the aliases this key may use, in OpenAI's list shape
 * (docs/wire.md §6.2).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { modelNotFound } from '../errors.js';
import type { ModelRouter } from '../upstream/routing.js';

export interface ModelRouteOptions {
  router: ModelRouter;
  /** Unix seconds reported as `created`: the time the config was loaded. */
  created: number;
}

const modelRoutes: FastifyPluginAsync<ModelRouteOptions> = async (app, { router, created }) => {
  const describe = (id: string) => ({
    id,
    object: 'model',
    created,
    owned_by: router.model(id)?.ownedBy ?? 'tollgate',
  });
  const visible = (request: FastifyRequest) => {
    const allowed = request.principal?.models;
    return router.aliases().filter((alias) => !allowed || allowed.includes(alias));
  };

  app.get('/models', async (request) => ({ object: 'list', data: visible(request).map(describe) }));

  app.get<{ Params: { id: string } }>('/models/:id', async (request) => {
    const { id } = request.params;
    if (!visible(request).includes(id)) throw modelNotFound(id);
    return describe(id);
  });
};

export default modelRoutes;
