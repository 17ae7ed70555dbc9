/**
 * Zod schemas of the HTTP API: route inputs (query, params, headers) and every response body.
 * Request bodies reuse the domain schemas (`MissionRequestSchema`); response schemas mirror the
 * domain types, and the handlers' return types are checked against them by the Zod type provider,
 * so a change of `Mission` that the API does not describe fails to compile.
 *
 * Schemas named with `.meta({ id })` become `components.schemas` entries of the OpenAPI document.
 * `.meta()` returns a copy, so the domain schemas themselves carry no ID; the names live in Zod's
 * global registry because only that registry also carries the fields' `.describe()` texts into
 * the document (a separate registry would drop them).
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { MissionRequestSchema, STEP_PHASES, WAIT_REASONS } from '../core/missions/mission.js';
import { OUTCOMES, STAGES } from '../core/missions/stages.js';
import { EFFECTS } from '../core/review/decision.js';
import { RISK_CLASSES } from '../core/tools/tool.js';

/**
 * The mission request body: the domain's `MissionRequestSchema`, named `MissionRequest` in the
 * OpenAPI components (`MissionRequestInput` for the body as sent, `MissionRequest` with defaults
 * applied as it appears inside a mission).
 */
export const MissionRequestBodySchema = MissionRequestSchema.meta({ id: 'MissionRequest' });

const epochMs = z.number().int().describe('Milliseconds since the Unix epoch.');
const uuid = z.uuid();

/** An error answer: `{ error: { code, message, details } }`; `code` is stable (see docs/errors.md). */
const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).describe('Stable error code; scripts match on it.'),
      message: z.string().describe('What went wrong and what to do.'),
      details: z
        .record(z.string(), z.unknown())
        .describe('Structured facts: for INPUT_INVALID, `issues` lists `{ path, message, expected?, received? }` per field.'),
    }),
  })
  .meta({ id: 'ErrorResponse' });

/**
 * A documented error response for a route's `response` map: the {@link ErrorResponseSchema} with a
 * description of when this status happens (shown in the OpenAPI document).
 */
export function errorResponse(description: string): { description: string; content: { 'application/json': { schema: typeof ErrorResponseSchema } } } {
  return { description, content: { 'application/json': { schema: ErrorResponseSchema } } };
}

/** The 401 answer of every authenticated route: no usable API token. */
export const UNAUTHENTICATED = errorResponse('AUTH_REQUIRED, AUTH_TOKEN_INVALID, AUTH_TOKEN_REVOKED or AUTH_TOKEN_EXPIRED: send a valid API token as Authorization: Bearer il_...');

const StepErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  outcomeUnknown: z.boolean().describe('True when the call may have taken effect; people must look.'),
});

const STEP_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'unknown', 'skipped', 'compensated', 'compensation_failed'] as const;

const MissionStepSchema = z
  .object({
    missionId: uuid,
    stepId: z.string(),
    phase: z.enum(STEP_PHASES).describe('Evidence, plan, a check of the outcome after the plan ran, or the saga undo of a plan step (step ID `<stepId>.undo`).'),
    index: z.number().int().describe('0-based position within its phase.'),
    tool: z.string(),
    args: z.record(z.string(), z.unknown()),
    risk: z.enum(RISK_CLASSES),
    idempotencyKey: z.string(),
    status: z.enum(STEP_STATUSES),
    attempts: z.number().int(),
    result: z.unknown(),
    error: StepErrorSchema.nullable(),
    startedAt: epochMs.nullable(),
    finishedAt: epochMs.nullable(),
  })
  .meta({ id: 'MissionStep' });

const StageTransitionSchema = z
  .object({
    seq: z.number().int().describe('1-based order of the transition within its mission.'),
    from: z.enum(STAGES).nullable(),
    to: z.enum(STAGES),
    reason: z.string(),
    at: epochMs,
  })
  .meta({ id: 'StageTransition' });

const DecisionSchema = z
  .object({
    effect: z.enum(EFFECTS),
    reasons: z.array(z.object({ rule: z.string(), effect: z.enum(EFFECTS), message: z.string() })).readonly(),
  })
  .meta({ id: 'Decision' });

const EscalationSchema = z.object({
  reason: z.string(),
  stepId: z.string().nullable(),
  evidence: z.record(z.string(), z.unknown()),
});

/** A mission as listed: stage, outcome, risk, decision and timestamps (ms since the epoch). */
const MissionSchema = z
  .object({
    id: uuid,
    title: z.string(),
    project: z.string(),
    requester: z.string(),
    idempotencyKey: z.string().nullable(),
    labels: z.record(z.string(), z.string()),
    request: MissionRequestBodySchema,
    stage: z.enum(STAGES),
    outcome: z.enum(OUTCOMES).nullable().describe('Null while the mission runs.'),
    waitingFor: z.enum(WAIT_REASONS).nullable(),
    risk: z.enum(RISK_CLASSES).describe('Highest risk class among the planned steps.'),
    decision: DecisionSchema.nullable(),
    escalation: EscalationSchema.nullable(),
    workflowVersion: z.string(),
    cancelRequested: z.boolean(),
    createdAt: epochMs,
    updatedAt: epochMs,
    finishedAt: epochMs.nullable(),
  })
  .meta({ id: 'Mission' });

/** A mission with its steps and stage history, as `GET /v1/missions/:id` returns it. */
const MissionDetailSchema = MissionSchema.extend({
  steps: z.array(MissionStepSchema).readonly(),
  history: z.array(StageTransitionSchema).readonly(),
}).meta({ id: 'MissionDetail' });

/** `{ mission }`: the answer of create, get and cancel. */
export const MissionResponseSchema = z.object({ mission: MissionDetailSchema });

/** `{ missions, next }`: one page of missions, newest first; pass `next` as `before` for the next page. */
export const MissionListResponseSchema = z.object({
  missions: z.array(MissionSchema),
  next: uuid.nullable().describe('ID to pass as `before` for the next page; null on the last page.'),
});

/** Query of `GET /v1/missions`. Unknown parameters are rejected, so a misspelt filter is not ignored. */
export const ListMissionsQuerySchema = z
  .object({
    project: z.string().min(1).max(63).optional().describe('Only missions of this project.'),
    stage: z.enum(STAGES).optional().describe('Only missions in this stage.'),
    outcome: z.enum(OUTCOMES).optional().describe('Only missions that ended with this outcome.'),
    running: z
      .enum(['true', 'false'])
      .transform((value) => value === 'true')
      .optional()
      .describe('"true": only running missions; "false": only finished ones.'),
    limit: z.coerce.number().int().min(1).max(500).default(50).describe('Page size.'),
    before: uuid.optional().describe('Only missions created before this mission (the `next` of the previous page).'),
  })
  .strict();

/** Path parameters of `/v1/missions/:id` routes. */
export const MissionParamsSchema = z.object({ id: uuid.describe('Mission ID (a UUID).') });

/** The `Idempotency-Key` header of `POST /v1/missions`, copied into the body when the body has none. */
export const IdempotencyKeyHeaderSchema = z
  .string()
  .min(1)
  .max(200)
  .describe('Same key and same request: the existing mission is returned (200) instead of a new one (201).');

/** Headers of `POST /v1/missions`: other headers pass through untouched. */
export const CreateMissionHeadersSchema = z.looseObject({ 'idempotency-key': IdempotencyKeyHeaderSchema.optional() });

/** A tool as `GET /v1/tools` describes it, with JSON Schema 2020-12 input and output schemas. */
const ToolDescriptionSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    risk: z.enum(RISK_CLASSES),
    idempotent: z.boolean(),
    timeoutMs: z.number().int(),
    permission: z.string(),
    compensation: z.string().nullable().describe('Name of the tool that undoes this one, if any.'),
    tags: z.array(z.string()).describe('Labels to filter by; the connector comes first.'),
    inputSchema: z.record(z.string(), z.unknown()),
    outputSchema: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'ToolDescription' });

function commaList<T extends z.ZodType<string, string>>(item: T) {
  return z.string().max(2000).transform((text) => text.split(',').map((part) => part.trim()).filter((part) => part !== '')).pipe(z.array(item).min(1));
}

/** `GET /v1/tools` query: narrow the catalog to a project's callable tools, tags and risk classes. */
export const ToolListQuerySchema = z.strictObject({
  project: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a project slug').optional().describe('Only the tools a mission of this project may call now.'),
  tag: commaList(z.string().min(1).max(100)).optional().describe('Comma-separated tags; only tools carrying every one.'),
  risk: commaList(z.enum(RISK_CLASSES)).optional().describe('Comma-separated risk classes; only tools of one of them.'),
});

/** `{ tools }`: the tool catalog. */
export const ToolListResponseSchema = z.object({ tools: z.array(ToolDescriptionSchema) });

/** `GET /healthz`: the process is up. */
export const HealthResponseSchema = z.object({ status: z.literal('ok'), version: z.string() });

/** `GET /readyz`: whether this instance takes work, with each check's result. */
export const ReadinessResponseSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
});
