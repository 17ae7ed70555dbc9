import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { InputError, type Issue } from '../../core/errors.js';
import { describeValue } from '../../core/validation.js';
import { ALL_PROJECTS, type Principal } from '../../core/identity/identity.js';
import type { MissionService } from '../../core/ports.js';
import { principalOf, requirePermission } from '../auth.js';
import { issuesFromZod, prefixIssuePaths } from '../errors.js';
import {
  CreateMissionHeadersSchema,
  errorResponse,
  IdempotencyKeyHeaderSchema,
  ListMissionsQuerySchema,
  MissionListResponseSchema,
  MissionParamsSchema,
  MissionRequestBodySchema,
  MissionResponseSchema,
  UNAUTHENTICATED,
} from '../schemas.js';

/** What the mission routes need. */
export interface MissionRoutesOptions {
  readonly missions: MissionService;
}

const TAGS = ['missions'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The identity fields of a mission request that name someone other than the caller: `requester`
 * must be the caller's principal name (or absent; it is then filled in), and `agent` may only be the
 * caller's own name when the caller is an agent. Interlock records who authenticated, never a claim.
 */
function identityClaimIssues(body: Record<string, unknown>, principal: Principal): Issue[] {
  const issues: Issue[] = [];
  if (body.requester !== undefined && body.requester !== principal.name) {
    issues.push({ path: 'body.requester', message: 'differs from the authenticated principal', expected: `${JSON.stringify(principal.name)} or no requester`, received: describeValue(body.requester) });
  }
  if (body.agent !== undefined && (principal.kind !== 'agent' || body.agent !== principal.name)) {
    issues.push({
      path: 'body.agent',
      message: principal.kind === 'agent' ? 'differs from the authenticated agent' : `the caller is a ${principal.kind}, not an agent`,
      expected: principal.kind === 'agent' ? `${JSON.stringify(principal.name)} or no agent` : 'no agent',
      received: describeValue(body.agent),
    });
  }
  return issues;
}

/**
 * The mission routes: create (`POST /missions`), list (`GET /missions`), get (`GET /missions/:id`)
 * and cancel (`POST /missions/:id/cancel`). Register them under the `/v1` prefix, behind
 * `addAuthentication`. Each checks its permission in the mission's project (`missions:write` to
 * create and cancel, `missions:read` to read; listing without `project` needs it for `*`) and records
 * the caller as the mission's requester. Otherwise they only translate HTTP to {@link MissionService}
 * calls; the service validates tools and arguments, stores and runs missions.
 */
export const missionRoutes: FastifyPluginCallbackZod<MissionRoutesOptions> = (app, { missions }, done) => {
  /** The body as sent (with the Idempotency-Key header copied in), before validation applies defaults. */
  const sentBodies = new WeakMap<object, unknown>();

  app.post(
    '/missions',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a mission',
        description:
          'Validates the request (tools and their arguments included), stores the mission and enqueues it. ' +
          'With an idempotency key (body `idempotencyKey` or header `Idempotency-Key`) a repeated request ' +
          'returns the existing mission with 200 instead of creating a second one.',
        headers: CreateMissionHeadersSchema,
        body: MissionRequestBodySchema,
        response: {
          200: MissionResponseSchema.describe('An earlier request with the same idempotency key created this mission; nothing new was created.'),
          201: MissionResponseSchema.describe('The mission was created and enqueued.'),
          400: errorResponse('INPUT_INVALID (schema), TOOL_UNKNOWN or TOOL_ARGS_INVALID; `details.issues` names each field.'),
          401: UNAUTHENTICATED,
          403: errorResponse('FORBIDDEN: the caller lacks missions:write in the project.'),
          409: errorResponse('IDEMPOTENCY_KEY_REUSED: the key was used before for a different request.'),
          413: errorResponse('The body is larger than the configured limit.'),
          415: errorResponse('The body is not application/json.'),
        },
      },
      preValidation: (request, _reply, next) => {
        let sent: unknown = request.body;
        let principal: Principal;
        try {
          principal = requirePermission(request, 'missions:write', isRecord(sent) && typeof sent.project === 'string' ? sent.project : 'default');
        } catch (error) {
          next(error as Error);
          return;
        }
        const header = request.headers['idempotency-key'];
        if (header !== undefined && isRecord(sent)) {
          const parsed = IdempotencyKeyHeaderSchema.safeParse(header, { reportInput: true });
          if (!parsed.success) {
            next(new InputError('INPUT_INVALID', 'The Idempotency-Key header is invalid; send 1 to 200 characters.', issuesFromZod(parsed.error, 'headers.idempotency-key')));
            return;
          }
          if (sent.idempotencyKey !== undefined && sent.idempotencyKey !== parsed.data) {
            const issue = { path: 'headers.idempotency-key', message: 'differs from body.idempotencyKey', expected: describeValue(sent.idempotencyKey), received: describeValue(parsed.data) };
            next(new InputError('INPUT_INVALID', 'The Idempotency-Key header and body.idempotencyKey differ; send one of them, or the same key in both.', [issue]));
            return;
          }
          sent = { ...sent, idempotencyKey: parsed.data };
          request.body = sent as typeof request.body;
        }
        if (isRecord(sent)) {
          const claims = identityClaimIssues(sent, principal);
          if (claims.length > 0) {
            next(new InputError('INPUT_INVALID', `The request claims another identity than the caller's (${principal.name}); omit ${claims.map((issue) => issue.path).join(' and ')}, or send the caller's own name.`, claims));
            return;
          }
          sent = { ...sent, requester: principal.name };
          request.body = sent as typeof request.body;
          sentBodies.set(request, sent);
        }
        next();
      },
    },
    async (request, reply) => {
      try {
        const principal = principalOf(request);
        const { mission, created } = await missions.create(sentBodies.get(request) ?? request.body, { name: principal.name, kind: principal.kind });
        return reply.code(created ? 201 : 200).send({ mission });
      } catch (error) {
        throw prefixIssuePaths(error, 'body');
      }
    },
  );

  app.get(
    '/missions',
    {
      schema: {
        tags: TAGS,
        summary: 'List missions',
        description: 'Newest first. When a page is full, `next` is the ID to pass as `before` for the next page.',
        querystring: ListMissionsQuerySchema,
        response: {
          200: MissionListResponseSchema.describe('One page of missions, newest first.'),
          400: errorResponse('INPUT_INVALID: a query parameter is invalid or unknown.'),
          401: UNAUTHENTICATED,
          403: errorResponse('FORBIDDEN: the caller lacks missions:read in the project (or, without `project`, in every project).'),
        },
      },
    },
    async (request) => {
      requirePermission(request, 'missions:read', request.query.project ?? ALL_PROJECTS);
      const { limit } = request.query;
      const page = await missions.list(request.query);
      const last = page.at(-1);
      return { missions: page, next: page.length >= limit && last !== undefined ? last.id : null };
    },
  );

  app.get(
    '/missions/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a mission with its steps and stage history',
        params: MissionParamsSchema,
        response: {
          200: MissionResponseSchema.describe('The mission with its steps and stage history.'),
          400: errorResponse('INPUT_INVALID: the ID is not a UUID.'),
          401: UNAUTHENTICATED,
          403: errorResponse("FORBIDDEN: the caller lacks missions:read in the mission's project."),
          404: errorResponse('MISSION_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const mission = await missions.get(request.params.id);
      requirePermission(request, 'missions:read', mission.project);
      return { mission };
    },
  );

  app.post(
    '/missions/:id/cancel',
    {
      schema: {
        tags: TAGS,
        summary: 'Cancel a mission',
        description:
          'Asks a running mission to stop: before its next write it compensates what it did and ends `cancelled`. ' +
          'Answers 202 with the mission as it stands; 409 when it has already finished.',
        params: MissionParamsSchema,
        response: {
          202: MissionResponseSchema.describe('The cancel request was recorded; the mission stops before its next write.'),
          400: errorResponse('INPUT_INVALID: the ID is not a UUID.'),
          401: UNAUTHENTICATED,
          403: errorResponse("FORBIDDEN: the caller lacks missions:write in the mission's project."),
          404: errorResponse('MISSION_NOT_FOUND'),
          409: errorResponse('MISSION_ALREADY_FINISHED'),
        },
      },
    },
    async (request, reply) => {
      const mission = await missions.get(request.params.id);
      const principal = requirePermission(request, 'missions:write', mission.project);
      return reply.code(202).send({ mission: await missions.cancel(request.params.id, { name: principal.name, kind: principal.kind }) });
    },
  );

  done();
};
