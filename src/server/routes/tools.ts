import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { ToolCatalog } from '../../core/tools/catalog.js';
import { errorResponse, ToolListQuerySchema, ToolListResponseSchema, UNAUTHENTICATED } from '../schemas.js';

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
        description:
          'Each tool with its risk class, idempotency, timeout, permission, compensation, tags and JSON Schema 2020-12 input and output schemas. ' +
          'With `project`, `tag` or `risk`, only the tools a mission of that project may call now, carrying every tag and of one of the risk classes (comma-separated lists).',
        querystring: ToolListQuerySchema,
        response: { 200: ToolListResponseSchema.describe('The tools, sorted by name.'), 400: errorResponse('INPUT_INVALID: a query parameter is invalid or unknown.'), 401: UNAUTHENTICATED },
      },
    },
    (request) => {
      const { project, tag, risk } = request.query;
      const filtered = project !== undefined || tag !== undefined || risk !== undefined;
      return { tools: catalog.describe(filtered ? { ...(project === undefined ? {} : { project }), ...(tag === undefined ? {} : { tags: tag }), ...(risk === undefined ? {} : { risks: risk }) } : undefined) };
    },
  );
  done();
};
