import { z } from 'zod';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { KillSwitch } from '../../core/guards/kill-switch.js';
import { requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** The kill switches as the API drives them (the engine). */
export interface KillSwitchControl {
  engageKillSwitch(scope: string, by: string, reason: string): Promise<KillSwitch>;
  releaseKillSwitch(scope: string, by: string): Promise<KillSwitch | undefined>;
  listKillSwitches(): Promise<KillSwitch[]>;
}

/** Reloading the policy set in force; `by` is recorded as who changed it. Rejects with `AUDIT_UNAVAILABLE` when the change cannot be recorded. */
export interface PolicyControl {
  reload(by?: string): Promise<{ ok: true; changed: boolean; digest: string; files: readonly string[] } | { ok: false; digest: string; error: { code: string; message: string; details: Record<string, unknown> } }>;
}

/** What the governance routes need. */
export interface GovernanceRoutesOptions {
  readonly killSwitches: KillSwitchControl;
  readonly policy: PolicyControl;
}

const KillSwitchSchema = z.object({
  scope: z.string(),
  engaged: z.boolean(),
  reason: z.string(),
  engagedBy: z.string().nullable(),
  engagedAt: z.number().nullable().describe('ms since the Unix epoch'),
  releasedBy: z.string().nullable(),
  releasedAt: z.number().nullable().describe('ms since the Unix epoch'),
}).meta({ id: 'KillSwitch' });

const Scope = z.string().regex(/^(global|project:[a-z0-9][a-z0-9_-]{0,62}|agent:[^\s]{1,200})$/, 'global, project:<name> or agent:<name>')
  .describe('global, project:<name> or agent:<name>');

const FORBIDDEN = errorResponse('FORBIDDEN: the admin role is required.');

/**
 * Admin routes of the governance kernel: `GET/POST /kill-switches`, `POST /kill-switches/release`,
 * and `POST /policy/reload`. Every one needs the `admin` permission on all projects and is logged with
 * the principal. Register under `/v1`.
 */
export const governanceRoutes: FastifyPluginCallbackZod<GovernanceRoutesOptions> = (app, { killSwitches, policy }, done) => {
  app.get('/kill-switches', {
    schema: { tags: ['governance'], summary: 'List kill switches', response: { 200: z.object({ killSwitches: z.array(KillSwitchSchema) }), 401: UNAUTHENTICATED, 403: FORBIDDEN } },
  }, async (request) => {
    requirePermission(request, 'admin', '*');
    return { killSwitches: await killSwitches.listKillSwitches() };
  });

  app.post('/kill-switches', {
    schema: {
      tags: ['governance'],
      summary: 'Engage a kill switch',
      description: 'No new write step starts in the scope; running missions park before their next write until it is released.',
      body: z.object({ scope: Scope, reason: z.string().trim().min(1).max(500).describe('Why, for the people who will release it.') }).strict(),
      response: { 200: z.object({ killSwitch: KillSwitchSchema }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: FORBIDDEN },
    },
  }, async (request) => {
    const principal = requirePermission(request, 'admin', '*');
    request.log.warn({ scope: request.body.scope, by: principal.name }, 'kill switch engaged through the API');
    return { killSwitch: await killSwitches.engageKillSwitch(request.body.scope, principal.name, request.body.reason) };
  });

  app.post('/kill-switches/release', {
    schema: {
      tags: ['governance'],
      summary: 'Release a kill switch',
      description: 'Parked missions wake up, review their remaining steps again and continue if still allowed.',
      body: z.object({ scope: Scope }).strict(),
      response: { 200: z.object({ killSwitch: KillSwitchSchema.nullable().describe('Null when the switch was not engaged.') }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: FORBIDDEN },
    },
  }, async (request) => {
    const principal = requirePermission(request, 'admin', '*');
    request.log.warn({ scope: request.body.scope, by: principal.name }, 'kill switch released through the API');
    return { killSwitch: (await killSwitches.releaseKillSwitch(request.body.scope, principal.name)) ?? null };
  });

  app.post('/policy/reload', {
    schema: {
      tags: ['governance'],
      summary: 'Reload the policy set',
      description: 'Reads the policy directory again; a valid set replaces the one in force (recorded in the audit log as `policy.changed` by the caller first), an invalid one is rejected with every problem and the set in force stays.',
      response: {
        200: z.object({ ok: z.literal(true), changed: z.boolean(), digest: z.string(), files: z.array(z.string()) }),
        422: z.object({ ok: z.literal(false), digest: z.string().describe('The set still in force.'), error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }) }),
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        503: errorResponse('AUDIT_UNAVAILABLE: the audit log could not record the change; the set in force stays.'),
      },
    },
  }, async (request, reply) => {
    const principal = requirePermission(request, 'admin', '*');
    const result = await policy.reload(principal.name);
    if (result.ok) return { ok: true as const, changed: result.changed, digest: result.digest, files: [...result.files] };
    return reply.code(422).send({ ok: false as const, digest: result.digest, error: result.error });
  });
  done();
};
