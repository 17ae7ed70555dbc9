import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { summarizeApproval, type ApprovalRequest, type VoteDecision } from '../../core/approvals/approval.js';
import { ALL_PROJECTS } from '../../core/identity/identity.js';
import type { ApprovalService } from '../../core/ports.js';
import { ApprovalListResponseSchema, ApprovalParamsSchema, ApprovalResponseSchema, ListApprovalsQuerySchema, VoteBodySchema } from '../approval-schemas.js';
import { principalOf, requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** What the approval routes need. */
export interface ApprovalRoutesOptions {
  readonly approvals: ApprovalService;
}

const TAGS = ['approvals'];

/**
 * An approval request as the API shows it: the request, its risk summary, its actions with a `diff`
 * (null: no tool computes one yet) and the count of approve votes.
 */
function view(request: ApprovalRequest) {
  return {
    id: request.id,
    missionId: request.missionId,
    project: request.project,
    requester: request.requester,
    status: request.status,
    risk: request.risk,
    summary: summarizeApproval(request),
    actionHash: request.actionHash,
    binding: request.binding,
    actions: request.binding.actions.map((action) => ({ ...action, diff: null })),
    reasons: request.reasons,
    requirement: request.requirement,
    approvals: request.votes.filter((vote) => vote.decision === 'approve').length,
    votes: request.votes.map(({ principal, decision, comment, at }) => ({ principal, decision, comment, at })),
    createdAt: request.createdAt,
    decidedAt: request.decidedAt,
    consumedAt: request.consumedAt,
  };
}

const VOTE_ERRORS = {
  400: errorResponse('INPUT_INVALID: the ID is not a UUID, or the body is not { actionHash, comment? }.'),
  401: UNAUTHENTICATED,
  403: errorResponse(
    "FORBIDDEN (no approvals:decide in the request's project), APPROVAL_AGENT_VOTE (agents never vote), APPROVAL_SELF_APPROVAL (the requester cannot vote) or APPROVAL_GROUP_REQUIRED (not in a required group).",
  ),
  404: errorResponse('APPROVAL_NOT_FOUND'),
  409: errorResponse(
    'APPROVAL_NOT_PENDING (already granted, denied or consumed), APPROVAL_EXPIRED, APPROVAL_ALREADY_VOTED or APPROVAL_HASH_MISMATCH (the actionHash sent is not the request\'s).',
  ),
  503: errorResponse('AUDIT_UNAVAILABLE: the audit log could not record the vote, so it was not counted; try again.'),
};

/**
 * The approval routes: list (`GET /approvals?status&project&mission&limit`), show
 * (`GET /approvals/:id`), and vote (`POST /approvals/:id/approve` and `/deny` with
 * `{ actionHash, comment? }`). Register them under `/v1`, behind `addAuthentication`. Reading needs
 * `approvals:read` in the request's project (listing without `project` needs it for `*`); the voting
 * rules (permission, requester, agents, groups, one vote, hash, expiry) are the approvals module's.
 */
export const approvalRoutes: FastifyPluginCallbackZod<ApprovalRoutesOptions> = (app, { approvals }, done) => {
  app.get(
    '/approvals',
    {
      schema: {
        tags: TAGS,
        summary: 'List approval requests',
        description: 'Newest first. Pending requests past their expiry are shown (and recorded) expired.',
        querystring: ListApprovalsQuerySchema,
        response: {
          200: ApprovalListResponseSchema.describe('Approval requests, newest first.'),
          400: errorResponse('INPUT_INVALID: a query parameter is invalid or unknown.'),
          401: UNAUTHENTICATED,
          403: errorResponse('FORBIDDEN: the caller lacks approvals:read in the project (or, without `project`, in every project).'),
        },
      },
    },
    async (request) => {
      const { status, project, mission, limit } = request.query;
      requirePermission(request, 'approvals:read', project ?? ALL_PROJECTS);
      const found = await approvals.list({ limit, ...(status === undefined ? {} : { status }), ...(project === undefined ? {} : { project }), ...(mission === undefined ? {} : { missionId: mission }) });
      return { approvals: found.map(view) };
    },
  );

  app.get(
    '/approvals/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Show an approval request',
        description: 'The risk summary, the exact actions with their arguments and targets, the policy reasons, the votes, and the `actionHash` to vote with.',
        params: ApprovalParamsSchema,
        response: {
          200: ApprovalResponseSchema.describe('The approval request.'),
          400: errorResponse('INPUT_INVALID: the ID is not a UUID.'),
          401: UNAUTHENTICATED,
          403: errorResponse("FORBIDDEN: the caller lacks approvals:read in the request's project."),
          404: errorResponse('APPROVAL_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const found = await approvals.get(request.params.id);
      requirePermission(request, 'approvals:read', found.project);
      return { approval: view(found) };
    },
  );

  for (const [verb, decision] of [['approve', 'approve'], ['deny', 'deny']] as const satisfies ReadonlyArray<readonly [string, VoteDecision]>) {
    app.post(
      `/approvals/:id/${verb}`,
      {
        schema: {
          tags: TAGS,
          summary: decision === 'approve' ? 'Approve an approval request' : 'Deny an approval request',
          description:
            decision === 'approve'
              ? 'Counts one approval from the caller; the quorum-th approval grants the request and resumes its mission. Send the `actionHash` you reviewed.'
              : 'Denies the request at once (an eligible approver said no); its mission ends denied. Send the `actionHash` you reviewed.',
          params: ApprovalParamsSchema,
          body: VoteBodySchema,
          response: { 200: ApprovalResponseSchema.describe('The request after the vote.'), ...VOTE_ERRORS },
        },
      },
      async (request) => {
        const { actionHash, comment } = request.body;
        const after = await approvals.vote(request.params.id, principalOf(request), { decision, actionHash, ...(comment === undefined ? {} : { comment }) });
        return { approval: view(after) };
      },
    );
  }

  done();
};
