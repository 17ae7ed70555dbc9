import { z } from 'zod';
import type { Decision } from '../review/decision.js';
import type { RiskClass } from '../tools/tool.js';
import type { Outcome, Stage, StageTransition } from './stages.js';

const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** One tool call in a request: which tool, with which arguments, under an optional step ID. */
export const StepSpecSchema = z
  .object({
    id: z.string().regex(SLUG, 'a lowercase slug: letters, digits, "_" or "-", at most 63 characters').optional()
      .describe('Step ID, unique within the mission; defaults to s1, s2, ... in plan order.'),
    tool: z.string().min(1).max(200).describe('Name of a tool in the catalog, e.g. supervisor.restart.'),
    args: z.record(z.string(), z.unknown()).default({}).describe("Arguments, validated against the tool's input schema."),
  })
  .strict();

/** One tool call in a request. */
export type StepSpec = z.infer<typeof StepSpecSchema>;

/** Longest a verification may keep checking, ms (one hour). */
export const MAX_VERIFICATION_MS = 3_600_000;

/**
 * An independent verification of the whole plan (DESIGN.md: "verification is a separate step that
 * re-observes the system"): a read tool whose result has `ok: boolean` and `observed: string` (for
 * example `prometheus.check`), called every `intervalMs` after the plan ran until it has passed
 * without a break for `windowMs`; when it has not within `timeoutMs`, the completed writes are
 * compensated and the mission escalates.
 */
export const VerificationSpecSchema = StepSpecSchema.extend({
  windowMs: z.int().min(0).max(MAX_VERIFICATION_MS).default(0).describe('How long the check must keep passing, ms; 0: one passing check.'),
  intervalMs: z.int().min(100).max(600_000).default(1000).describe('Pause between checks, ms.'),
  timeoutMs: z.int().min(1000).max(MAX_VERIFICATION_MS).default(60_000).describe('Fail the verification when it has not passed for windowMs after this long, ms.'),
}).strict().refine((spec) => spec.windowMs <= spec.timeoutMs, { message: 'windowMs must not exceed timeoutMs', path: ['windowMs'] });

/** A verification as the request gives it (defaults applied). */
export type VerificationSpec = z.output<typeof VerificationSpecSchema>;

/**
 * A request for a mission (POST /v1/missions): what to do, for whom, and an optional idempotency key
 * so a retried request never starts a second mission. `context` lists read-only evidence queries run
 * before planning; `steps` is the proposed plan, which review gates before anything executes.
 */
export const MissionRequestSchema = z
  .object({
    title: z.string().trim().min(1).max(200).describe('What the mission is for, in a line.'),
    project: z.string().regex(SLUG, 'a lowercase slug').default('default').describe('Project the mission belongs to.'),
    requester: z.string().min(1).max(200).default('anonymous').describe('Who asked: through the API, always the authenticated principal (omit it, or send that name; another is refused).'),
    idempotencyKey: z.string().min(1).max(200).optional()
      .describe('Same key and same request: the existing mission is returned instead of a new one.'),
    context: z.array(StepSpecSchema).max(20).default([]).describe('Read-only evidence queries run in the context stage.'),
    steps: z.array(StepSpecSchema).min(1).max(50).describe('The proposed plan: tool calls run in order after review.'),
    verify: z.array(VerificationSpecSchema).max(10).default([]).describe("Checks that re-observe the system after the plan ran (read tools returning ok and observed), besides each write tool's own probe."),
    labels: z.record(z.string(), z.string().max(200)).default({}).describe('Free-form labels, e.g. service, environment and tier.'),
    agent: z.string().min(1).max(200).optional().describe('The agent that proposed the plan; set by Interlock from the caller when an agent calls.'),
    confidence: z.number().min(0).max(1).optional().describe('Confidence of the top hypothesis behind the plan, 0..1.'),
    hypothesis: z.string().max(500).optional().describe('The top hypothesis behind the plan, in a line.'),
    requireApproval: z.boolean().optional().describe("Ask a person's approval before the plan runs even where policy and autonomy would let it run on its own; it never loosens a decision (a deny stays a deny)."),
    shadow: z.boolean().default(false).describe('Shadow mode: review the plan and record what would run, execute nothing.'),
    notBefore: z.int().min(0).optional().describe('Start work (context, plan, review) no earlier than this, ms since the epoch: a durable wait, e.g. a revert after a quiet period. A cancel request ends the wait.'),
  })
  .strict()
  .superRefine((request, ctx) => {
    const seen = new Map<string, number>();
    request.steps.forEach((step, index) => {
      const id = step.id ?? defaultStepId(index);
      const first = seen.get(id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step ID "${id}" (also used by steps.${first})` });
      }
      seen.set(id, index);
    });
    const verifications = new Set<string>();
    request.verify.forEach((check, index) => {
      const id = check.id ?? defaultVerificationId(index);
      if (seen.has(id) || verifications.has(id)) ctx.addIssue({ code: 'custom', path: ['verify', index, 'id'], message: `duplicate step ID "${id}"` });
      verifications.add(id);
    });
  });

/** A mission request as the caller sends it (defaults not yet applied). */
export type MissionRequestInput = z.input<typeof MissionRequestSchema>;

/** A validated mission request with defaults applied. */
export type MissionRequest = z.output<typeof MissionRequestSchema>;

/** The step ID of the step at `index` (0-based) when the request gives none: `s1`, `s2`, ... */
export function defaultStepId(index: number): string {
  return `s${index + 1}`;
}

/** The step ID of the verification at `index` (0-based) when the request gives none: `v1`, `v2`, ... */
export function defaultVerificationId(index: number): string {
  return `v${index + 1}`;
}

/**
 * The idempotency key of a step (DESIGN.md, "Mission"): derived from the mission and the step, so
 * every attempt and every recovery of the same step presents the same key to the tool.
 */
export function stepIdempotencyKey(missionId: string, stepId: string, phase: 'do' | 'compensate' = 'do'): string {
  return phase === 'do' ? `${missionId}:${stepId}` : `${missionId}:${stepId}:compensate`;
}

/** Where a step stands. `unknown` means its outcome could not be established and people must look. */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'unknown' | 'skipped' | 'compensated' | 'compensation_failed';

/**
 * Which part of the loop a step belongs to: evidence (`context`), the plan (`plan`), a check of the
 * outcome after the plan ran (`verification`), or the saga's undo of a completed plan step
 * (`compensation`, step ID `<stepId>.undo`).
 */
export type StepPhase = 'context' | 'plan' | 'verification' | 'compensation';

/** Every {@link StepPhase}, in loop order. */
export const STEP_PHASES = ['context', 'plan', 'verification', 'compensation'] as const satisfies readonly StepPhase[];

/** A step of a mission as stored and shown: the call, its attempts, result or error, and its compensation. */
export interface MissionStep {
  readonly missionId: string;
  readonly stepId: string;
  readonly phase: StepPhase;
  /** 0-based position within its phase. */
  readonly index: number;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly risk: RiskClass;
  readonly idempotencyKey: string;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly result: unknown;
  readonly error: StepError | null;
  /** Milliseconds since the Unix epoch. */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** A step's failure as recorded: code, message and whether the outcome is known. */
export interface StepError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
}

/** Facts attached to an escalation so a person can pick up where the mission stopped. */
export interface Escalation {
  readonly reason: string;
  /** The step that failed or could not be established, if any. */
  readonly stepId: string | null;
  readonly evidence: Record<string, unknown>;
}

/**
 * What a running mission waits for: a review decision (`approval`), the release of a kill switch
 * (`kill_switch`), a rate-limit window (`rate_limit`), the audit log, which could not record what
 * the mission is about to do (`audit`: it fails closed and retries), or its `notBefore` time
 * (`schedule`).
 */
export type WaitReason = 'approval' | 'kill_switch' | 'rate_limit' | 'audit' | 'schedule';

/** Every {@link WaitReason}. */
export const WAIT_REASONS = ['approval', 'kill_switch', 'rate_limit', 'audit', 'schedule'] as const satisfies readonly WaitReason[];

/** A mission as stored and shown by the API and CLI. */
export interface Mission {
  readonly id: string;
  readonly title: string;
  readonly project: string;
  readonly requester: string;
  readonly idempotencyKey: string | null;
  readonly labels: Record<string, string>;
  readonly request: MissionRequest;
  readonly stage: Stage;
  /** Null while the mission runs. */
  readonly outcome: Outcome | null;
  /** What the mission waits for, if it waits: a review decision (approval), or nothing. */
  readonly waitingFor: WaitReason | null;
  /** Highest risk class among the planned steps. */
  readonly risk: RiskClass;
  readonly decision: Decision | null;
  readonly escalation: Escalation | null;
  /** Application version of the mission workflow that runs it (see docs/architecture.md, versioning). */
  readonly workflowVersion: string;
  readonly cancelRequested: boolean;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
}

/** A mission with its steps and its stage history, as `GET /v1/missions/:id` returns it. */
export interface MissionDetail extends Mission {
  readonly steps: readonly MissionStep[];
  readonly history: readonly StageTransition[];
}
