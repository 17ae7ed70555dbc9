import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { InterlockMetrics } from '../metrics.js';
import { HealthResponseSchema, ReadinessResponseSchema } from '../schemas.js';

/** The result of a readiness check: ready or not, with one entry per dependency checked. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, { readonly ok: boolean; readonly detail?: string }>;
}

/** What the operations routes need. */
export interface OperationsRoutesOptions {
  /** Application version reported by `/healthz`. */
  readonly version: string;
  /** Checks the dependencies (database, engine); a rejection counts as not ready. */
  readonly ready: () => Promise<Readiness>;
  readonly metrics: InterlockMetrics;
}

const TAGS = ['operations'];

/**
 * Routes for operators and orchestrators, answered without an API token: `GET /healthz` (liveness: the process answers),
 * `GET /readyz` (readiness: 200 when this instance takes work, 503 otherwise) and `GET /metrics`
 * (Prometheus text format).
 */
export const operationsRoutes: FastifyPluginCallbackZod<OperationsRoutesOptions> = (app, { version, ready, metrics }, done) => {
  app.get(
    '/healthz',
    { schema: { tags: TAGS, summary: 'Liveness: the process is up', security: [], response: { 200: HealthResponseSchema.describe('The process is up.') } } },
    () => ({ status: 'ok' as const, version }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: TAGS,
        summary: 'Readiness: this instance takes work',
        security: [],
        description: '200 when every check passes, 503 otherwise; a check that throws counts as failed.',
        response: { 200: ReadinessResponseSchema.describe('Every check passed.'), 503: ReadinessResponseSchema.describe('A check failed; do not send work here.') },
      },
    },
    async (request, reply) => {
      let readiness: Readiness;
      try {
        readiness = await ready();
      } catch (error) {
        request.log.error({ err: error }, 'readiness check failed');
        readiness = { ready: false, checks: { readiness: { ok: false, detail: 'the readiness check failed; the server log has the details' } } };
      }
      return reply.code(readiness.ready ? 200 : 503).send({ status: readiness.ready ? 'ready' : 'not_ready', checks: readiness.checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: TAGS,
        summary: 'Prometheus metrics',
        security: [],
        description: 'Text exposition format 0.0.4: mission, step, queue and HTTP metrics plus process metrics, all prefixed `interlock_`.',
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  done();
};
