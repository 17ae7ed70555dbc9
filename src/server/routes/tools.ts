import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { ToolCatalog } from '../../core/tools/catalog.js';
import { ToolListResponseSchema, UNAUTHENTICATED } from '../schemas.js';

/** What the tool routes need. */
export interface ToolRoutesOptions {
  readonly catalog: ToolCatalog;
}

/**
 * `GET /tools`: every tool in the catalog with its contract and JSON Schemas; any authenticated
 * principal may read it. Register under `/v1`.
 */
export const toolRoutes: FastifyPluginCallbackZod<ToolRoutesOptions> = (app, { catalog }, done) => {
  app.get(
    '/tools',
    {
      schema: {
        tags: ['tools'],
        summary: 'List the tool catalog',
        description: 'Each tool with its risk class, idempotency, timeout, permission, compensation and JSON Schema 2020-12 input and output schemas.',
        response: { 200: ToolListResponseSchema.describe('Every tool, sorted by name.'), 401: UNAUTHENTICATED },
      },
    },
    () => ({ tools: catalog.describe() }),
  );
  done();
};
