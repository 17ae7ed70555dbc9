import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { InputError } from '../../core/errors.js';
import { describeValue } from '../../core/validation.js';
import type { MissionService } from '../../core/ports.js';
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
 * The mission routes: create (`POST /missions`), list (`GET /missions`), get (`GET /missions/:id`)
 * and cancel (`POST /missions/:id/cancel`). Register them under the `/v1` prefix. They only
 * translate HTTP to {@link MissionService} calls; the service validates tools and arguments,
 * stores and runs missions.
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
          409: errorResponse('IDEMPOTENCY_KEY_REUSED: the key was used before for a different request.'),
          413: errorResponse('The body is larger than the configured limit.'),
          415: errorResponse('The body is not application/json.'),
        },
      },
      preValidation: (request, _reply, next) => {
        let sent: unknown = request.body;
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
        if (isRecord(sent)) sentBodies.set(request, sent);
        next();
      },
    },
    async (request, reply) => {
      try {
        const { mission, created } = await missions.create(sentBodies.get(request) ?? request.body);
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
        response: { 200: MissionListResponseSchema.describe('One page of missions, newest first.'), 400: errorResponse('INPUT_INVALID: a query parameter is invalid or unknown.') },
      },
    },
    async (request) => {
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
        response: { 200: MissionResponseSchema.describe('The mission with its steps and stage history.'), 400: errorResponse('INPUT_INVALID: the ID is not a UUID.'), 404: errorResponse('MISSION_NOT_FOUND') },
      },
    },
    async (request) => ({ mission: await missions.get(request.params.id) }),
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
          404: errorResponse('MISSION_NOT_FOUND'),
          409: errorResponse('MISSION_ALREADY_FINISHED'),
        },
      },
    },
    async (request, reply) => reply.code(202).send({ mission: await missions.cancel(request.params.id) }),
  );

  done();
};
