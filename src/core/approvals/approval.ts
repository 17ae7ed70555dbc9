/**
 * Approval requests and the rules of voting on them (DESIGN.md, "Approval"): bound to the hash of the
 * exact actions, M-of-N quorum from the required groups, the requester and agents never vote, one vote
 * per principal, single use, expiry. Pure: every function returns a value; the API maps refusals to
 * 4xx answers.
 */
import { authorize, type Principal } from '../identity/identity.js';
import type { PolicyTarget } from '../policy/policy.js';
import type { DecisionReason } from '../review/decision.js';
import type { RiskClass } from '../tools/tool.js';

/** One action an approval covers: the step, the tool, its exact arguments and its target. */
export interface ApprovalAction {
  readonly stepId: string;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly target: PolicyTarget;
}

/**
 * What an approval is bound to: the mission, the exact actions and the policy set that required the
 * approval. Its hash is the SHA-256 of the RFC 8785 canonical JSON of this object; an action whose
 * hash differs (edited, replayed elsewhere, decided under another policy) is refused.
 */
export interface ApprovalBinding {
  readonly missionId: string;
  readonly project: string;
  readonly actions: readonly ApprovalAction[];
  readonly policyDigest: string;
}

/** A review decision reached by the approvals module for a mission (quorum met, denied, or expired). */
export interface ApprovalOutcome {
  readonly approvalId: string;
  readonly approved: boolean;
  /** Who decided: the approvers' names, or `expiry`. */
  readonly by: string;
  readonly comment?: string;
}

/**
 * Where an approval request stands: `pending` (collecting votes), `granted` (quorum met, not yet
 * used), `denied` (an eligible approver said no), `expired` (no decision, or not used, before
 * `expiresAt`), `consumed` (granted and used once by the engine; it can never be used again).
 */
export const APPROVAL_STATUSES = ['pending', 'granted', 'denied', 'expired', 'consumed'] as const;

/** See {@link APPROVAL_STATUSES}. */
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** How a principal voted. */
export type VoteDecision = 'approve' | 'deny';

/** One vote on an approval request. */
export interface ApprovalVote {
  /** The voter's principal name. */
  readonly principal: string;
  readonly principalId: string;
  readonly decision: VoteDecision;
  readonly comment: string | null;
  /** ms since the Unix epoch. */
  readonly at: number;
}

/** What an approval request must gather, with its deadline as an instant. */
export interface ApprovalTerms {
  /** Approvals needed (M of M-of-N), at least 1. */
  readonly quorum: number;
  /** Groups whose members may vote; empty means any principal allowed to decide approvals in the project. */
  readonly groups: readonly string[];
  /** ms since the Unix epoch; from then on the request can be neither decided nor used. */
  readonly expiresAt: number;
}

/** A request for approval of one mission's exact actions, with its votes. */
export interface ApprovalRequest {
  /** UUID. */
  readonly id: string;
  readonly missionId: string;
  readonly project: string;
  /** Principal name of the mission's requester; it can never vote on this request. */
  readonly requester: string;
  /** SHA-256 hex of the canonical JSON of `binding` (see `bindingHash`). */
  readonly actionHash: string;
  readonly binding: ApprovalBinding;
  readonly requirement: ApprovalTerms;
  /** The policy rules that required the approval. */
  readonly reasons: readonly DecisionReason[];
  /** Highest risk class among the actions. */
  readonly risk: RiskClass;
  readonly status: ApprovalStatus;
  /** In the order they were cast. */
  readonly votes: readonly ApprovalVote[];
  /** ms since the Unix epoch. */
  readonly createdAt: number;
  /** When it became granted, denied or expired; null while pending. */
  readonly decidedAt: number | null;
  /** When the engine used the grant; null until then. */
  readonly consumedAt: number | null;
}

/** What a voter sends: the decision, the action hash they were shown, and an optional comment. */
export interface VoteInput {
  readonly decision: VoteDecision;
  /** The `actionHash` of the request as the voter saw it; it must equal the request's. */
  readonly actionHash: string;
  readonly comment?: string;
}

/** Why a vote is refused; each is a registered error code (docs/errors.md). */
export type VoteRefusalCode =
  | 'APPROVAL_NOT_PENDING'
  | 'APPROVAL_EXPIRED'
  | 'APPROVAL_AGENT_VOTE'
  | 'FORBIDDEN'
  | 'APPROVAL_SELF_APPROVAL'
  | 'APPROVAL_GROUP_REQUIRED'
  | 'APPROVAL_ALREADY_VOTED'
  | 'APPROVAL_HASH_MISMATCH';

/**
 * The result of {@link castVote}: the vote counted (with the request after it, and the decision when
 * this vote decided it), or refused with a code and a reason. `expire` is true when the refusal is
 * because the request's time ran out while it was still pending: the caller must record it expired.
 */
export type VoteResult =
  | { readonly ok: true; readonly request: ApprovalRequest; readonly vote: ApprovalVote; readonly decided: boolean }
  | { readonly ok: false; readonly code: VoteRefusalCode; readonly reason: string; readonly expire: boolean };

/**
 * Applies one vote to `request` at `now` (ms since the epoch), checking in order: the request is
 * pending; it has not expired; the voter is not an agent; the voter holds `approvals:decide` in the
 * request's project; the voter is not the requester; the voter is in one of the required groups (when
 * groups are given); the voter has not voted yet; the presented `actionHash` equals the request's.
 * A deny by an eligible voter denies the request; the `quorum`-th approval grants it.
 */
export function castVote(request: ApprovalRequest, voter: Principal, input: VoteInput, now: number): VoteResult {
  const refuse = (code: VoteRefusalCode, reason: string, expire = false): VoteResult => ({ ok: false, code, reason, expire });
  if (request.status !== 'pending') {
    return request.status === 'expired'
      ? refuse('APPROVAL_EXPIRED', `Approval request ${request.id} expired at ${iso(request.requirement.expiresAt)}; it can no longer be decided.`)
      : refuse('APPROVAL_NOT_PENDING', `Approval request ${request.id} is already ${request.status}; it takes no more votes.`);
  }
  if (now >= request.requirement.expiresAt) {
    return refuse('APPROVAL_EXPIRED', `Approval request ${request.id} expired at ${iso(request.requirement.expiresAt)}; it can no longer be decided.`, true);
  }
  if (voter.kind === 'agent') {
    return refuse('APPROVAL_AGENT_VOTE', `${voter.name} is an agent; agents never vote on approvals, whatever their roles.`);
  }
  const allowed = authorize(voter, 'approvals:decide', request.project);
  if (!allowed.allowed) return refuse('FORBIDDEN', `${allowed.reason}.`);
  if (voter.name === request.requester) {
    return refuse('APPROVAL_SELF_APPROVAL', `${voter.name} requested mission ${request.missionId} and cannot vote on its own approval request; another approver must.`);
  }
  const { groups, quorum } = request.requirement;
  if (groups.length > 0 && !groups.some((group) => voter.groups.includes(group))) {
    return refuse('APPROVAL_GROUP_REQUIRED', `Only members of ${groups.join(' or ')} may vote on approval request ${request.id}; ${voter.name} is in ${voter.groups.length === 0 ? 'no group' : voter.groups.join(', ')}.`);
  }
  if (request.votes.some((vote) => vote.principalId === voter.id || vote.principal === voter.name)) {
    return refuse('APPROVAL_ALREADY_VOTED', `${voter.name} has already voted on approval request ${request.id}; each principal votes once.`);
  }
  if (input.actionHash !== request.actionHash) {
    return refuse(
      'APPROVAL_HASH_MISMATCH',
      `The action hash you sent (${input.actionHash}) is not the hash of this request's actions (${request.actionHash}); review the request again (GET /v1/approvals/${request.id}) and vote with the hash it shows.`,
    );
  }
  const vote: ApprovalVote = { principal: voter.name, principalId: voter.id, decision: input.decision, comment: input.comment ?? null, at: now };
  const votes = [...request.votes, vote];
  const approvals = votes.filter((v) => v.decision === 'approve').length;
  const status: ApprovalStatus = input.decision === 'deny' ? 'denied' : approvals >= quorum ? 'granted' : 'pending';
  const decided = status !== 'pending';
  return { ok: true, vote, decided, request: { ...request, votes, status, decidedAt: decided ? now : null } };
}

/**
 * The review decision a decided request delivers to its mission: granted (by the approvers' names,
 * with their comments), denied (by the denier, with their comment) or expired (by `expiry`).
 * Undefined while the request is pending.
 */
export function approvalOutcome(request: ApprovalRequest): ApprovalOutcome | undefined {
  const comments = (votes: readonly ApprovalVote[]): string | undefined => {
    const texts = votes.flatMap((vote) => (vote.comment === null || vote.comment === '' ? [] : [`${vote.principal}: ${vote.comment}`]));
    return texts.length === 0 ? undefined : texts.join('; ');
  };
  const withComment = (outcome: ApprovalOutcome, comment: string | undefined): ApprovalOutcome => (comment === undefined ? outcome : { ...outcome, comment });
  switch (request.status) {
    case 'granted':
    case 'consumed': {
      const approvers = request.votes.filter((vote) => vote.decision === 'approve');
      return withComment({ approvalId: request.id, approved: true, by: approvers.map((vote) => vote.principal).join(', ') }, comments(approvers));
    }
    case 'denied': {
      const deniers = request.votes.filter((vote) => vote.decision === 'deny');
      return withComment({ approvalId: request.id, approved: false, by: deniers.map((vote) => vote.principal).join(', ') }, comments(deniers));
    }
    case 'expired': {
      const approvals = request.votes.filter((vote) => vote.decision === 'approve').length;
      return {
        approvalId: request.id,
        approved: false,
        by: 'expiry',
        comment: `no decision before ${iso(request.requirement.expiresAt)} (${approvals} of ${request.requirement.quorum} approvals)`,
      };
    }
    case 'pending':
      return undefined;
  }
}

/**
 * A one-paragraph risk summary for reviewers: risk class, how many actions on which targets, what the
 * request still needs, and when it expires, e.g. `write-prod: 1 action (ledger.append-prod on
 * ledger/production). Needs 2 approvals from change-board; has 1. Expires 2026-01-02T03:04:05.000Z.`
 */
export function summarizeApproval(request: ApprovalRequest): string {
  const actions = request.binding.actions;
  const listed = actions.map((action) => {
    const { service, environment } = action.target;
    const target = [service, environment].filter((part): part is string => part !== null && part !== '').join('/');
    return target === '' ? action.tool : `${action.tool} on ${target}`;
  });
  const { quorum, groups, expiresAt } = request.requirement;
  const approvals = request.votes.filter((vote) => vote.decision === 'approve').length;
  const who = groups.length === 0 ? '' : ` from ${groups.join(' or ')}`;
  const state = request.status === 'pending' ? `has ${approvals}` : `${request.status}`;
  return `${request.risk}: ${actions.length} action${actions.length === 1 ? '' : 's'} (${listed.join(', ')}). Needs ${quorum} approval${quorum === 1 ? '' : 's'}${who}; ${state}. Expires ${iso(expiresAt)}.`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
