/**
 * Zod schemas of the approval routes (`/v1/approvals`): the request as reviewers see it, the list
 * query and the vote body. Named schemas become `components.schemas` of the OpenAPI document.
 */
import { z } from 'zod';
import { APPROVAL_STATUSES } from '../core/approvals/approval.js';
import { EFFECTS } from '../core/review/decision.js';
import { RISK_CLASSES } from '../core/tools/tool.js';

const epochMs = z.number().int().describe('Milliseconds since the Unix epoch.');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lowercase hex (64 characters)');

const PolicyTargetSchema = z
  .object({
    service: z.string().nullable(),
    environment: z.string().nullable(),
    tier: z.string().nullable(),
    labels: z.record(z.string(), z.string()),
  })
  .meta({ id: 'PolicyTarget' });

/** One action an approval covers, exactly as it will run. */
const ApprovalActionSchema = z
  .object({
    stepId: z.string(),
    tool: z.string(),
    args: z.record(z.string(), z.unknown()).describe('The exact arguments the tool will be called with.'),
    target: PolicyTargetSchema,
  })
  .meta({ id: 'ApprovalAction' });

/** The object an approval is bound to; `actionHash` is the SHA-256 of its RFC 8785 canonical JSON. */
const ApprovalBindingSchema = z
  .object({
    missionId: z.uuid(),
    project: z.string(),
    actions: z.array(ApprovalActionSchema).readonly(),
    policyDigest: z.string().describe('SHA-256 (hex) of the policy set that required the approval.'),
  })
  .meta({ id: 'ApprovalBinding' });

const ApprovalVoteSchema = z
  .object({
    principal: z.string().describe('Principal name of the voter.'),
    decision: z.enum(['approve', 'deny']),
    comment: z.string().nullable(),
    at: epochMs,
  })
  .meta({ id: 'ApprovalVote' });

/** An approval request as reviewers see it. */
const ApprovalSchema = z
  .object({
    id: z.uuid(),
    missionId: z.uuid(),
    project: z.string(),
    requester: z.string().describe('Principal name of the mission requester; it can never vote on this request.'),
    status: z.enum(APPROVAL_STATUSES).describe('pending → granted | denied | expired; granted → consumed (used once by the engine) | expired.'),
    risk: z.enum(RISK_CLASSES).describe('Highest risk class among the actions.'),
    summary: z.string().describe('Risk summary in a sentence or two: risk class, actions and targets, what is still needed, expiry.'),
    actionHash: sha256Hex.describe('SHA-256 (hex) of the RFC 8785 canonical JSON of `binding`; send it with your vote.'),
    binding: ApprovalBindingSchema.describe('Exactly what is approved: recompute its RFC 8785 SHA-256 to check `actionHash` independently.'),
    actions: z
      .array(
        ApprovalActionSchema.extend({
          diff: z
            .string()
            .nullable()
            .describe('What the action would change in its target, when the tool can compute it; null today (no tool contract offers a diff yet).'),
        }),
      )
      .readonly()
      .describe('The actions of `binding`, for display.'),
    reasons: z.array(z.object({ rule: z.string(), effect: z.enum(EFFECTS), message: z.string() })).readonly().describe('The policy rules that required the approval.'),
    requirement: z.object({
      quorum: z.number().int().describe('Approvals needed.'),
      groups: z.array(z.string()).readonly().describe('Groups whose members may vote; empty: any principal with approvals:decide in the project.'),
      expiresAt: epochMs,
    }),
    approvals: z.number().int().describe('Approve votes so far.'),
    votes: z.array(ApprovalVoteSchema).readonly(),
    createdAt: epochMs,
    decidedAt: epochMs.nullable(),
    consumedAt: epochMs.nullable(),
  })
  .meta({ id: 'Approval' });

/** `{ approval }`: the answer of show, approve and deny. */
export const ApprovalResponseSchema = z.object({ approval: ApprovalSchema });

/** `{ approvals }`: approval requests, newest first. */
export const ApprovalListResponseSchema = z.object({ approvals: z.array(ApprovalSchema) });

/** Query of `GET /v1/approvals`; unknown parameters are rejected. */
export const ListApprovalsQuerySchema = z
  .object({
    status: z.enum(APPROVAL_STATUSES).optional().describe('Only requests with this status.'),
    project: z.string().min(1).max(63).optional().describe('Only requests of this project.'),
    mission: z.uuid().optional().describe('Only requests of this mission.'),
    limit: z.coerce.number().int().min(1).max(500).default(50).describe('At most this many.'),
  })
  .strict();

/** Path parameters of `/v1/approvals/:id` routes. */
export const ApprovalParamsSchema = z.object({ id: z.uuid().describe('Approval request ID (a UUID).') });

/** Body of `POST /v1/approvals/:id/approve` and `/deny`. */
export const VoteBodySchema = z
  .object({
    actionHash: sha256Hex.describe('The `actionHash` of the request as you reviewed it; a vote for other actions is refused.'),
    comment: z.string().max(1000).optional().describe('Why; shown with the vote and delivered to the mission.'),
  })
  .strict()
  .meta({ id: 'Vote' });
