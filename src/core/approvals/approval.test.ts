import { describe, expect, it } from 'vitest';
import type { Principal } from '../identity/identity.js';
import { approvalOutcome, castVote, summarizeApproval, type ApprovalRequest, type VoteResult } from './approval.js';
import { bindingHash } from './binding-hash.js';

const NOW = Date.UTC(2026, 0, 2, 3, 0, 0);
let ids = 0;
const person = (name: string, options: Partial<Principal> = {}): Principal => ({ id: `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`, kind: 'human', name, groups: ['change-board'], roles: { shop: ['approver'] }, ...options });

const binding = {
  missionId: '6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11',
  project: 'shop',
  policyDigest: 'd'.repeat(64),
  actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount: 7 }, target: { service: 'ledger', environment: 'production', tier: 'critical', labels: {} } }],
};

function request(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    missionId: binding.missionId,
    project: 'shop',
    requester: 'alice',
    actionHash: bindingHash(binding),
    binding,
    requirement: { quorum: 2, groups: ['change-board'], expiresAt: NOW + 60_000 },
    reasons: [{ rule: 'prod/write', effect: 'require_approval', message: 'production writes need the change board' }],
    risk: 'write-prod',
    status: 'pending',
    votes: [],
    createdAt: NOW - 1000,
    decidedAt: null,
    consumedAt: null,
    ...overrides,
  };
}

const approve = { decision: 'approve' as const, actionHash: bindingHash(binding) };
const refusal = (result: VoteResult) => (result.ok ? undefined : result.code);

describe('castVote', () => {
  it('counts approvals until the quorum grants the request', () => {
    const first = castVote(request(), person('bob'), { ...approve, comment: 'looks right' }, NOW);
    expect(first).toMatchObject({ ok: true, decided: false, request: { status: 'pending', decidedAt: null } });
    if (!first.ok) return;
    const second = castVote(first.request, person('carol'), approve, NOW + 1);
    expect(second).toMatchObject({ ok: true, decided: true, request: { status: 'granted', decidedAt: NOW + 1 } });
    if (!second.ok) return;
    expect(second.request.votes.map((v) => [v.principal, v.decision, v.comment])).toEqual([['bob', 'approve', 'looks right'], ['carol', 'approve', null]]);
    expect(approvalOutcome(second.request)).toEqual({ approvalId: second.request.id, approved: true, by: 'bob, carol', comment: 'bob: looks right' });
  });

  it('denies the request on one eligible deny, even after approvals', () => {
    const first = castVote(request(), person('bob'), approve, NOW);
    if (!first.ok) throw new Error('refused');
    const denied = castVote(first.request, person('carol'), { decision: 'deny', actionHash: approve.actionHash, comment: 'not during the sale' }, NOW);
    expect(denied).toMatchObject({ ok: true, decided: true, request: { status: 'denied' } });
    if (denied.ok) expect(approvalOutcome(denied.request)).toEqual({ approvalId: denied.request.id, approved: false, by: 'carol', comment: 'carol: not during the sale' });
  });

  it('refuses the requester voting on its own request (human or agent)', () => {
    expect(refusal(castVote(request(), person('alice'), approve, NOW))).toBe('APPROVAL_SELF_APPROVAL');
    const result = castVote(request({ requester: 'bob' }), person('bob'), { decision: 'deny', actionHash: approve.actionHash }, NOW);
    expect(result).toMatchObject({ ok: false, code: 'APPROVAL_SELF_APPROVAL', reason: expect.stringContaining('cannot vote on its own approval request') });
  });

  it('refuses any agent, whatever its roles and groups, its own plan or not', () => {
    const agent = person('triage-agent', { kind: 'agent', roles: { '*': ['admin', 'approver'] } });
    expect(refusal(castVote(request(), agent, approve, NOW))).toBe('APPROVAL_AGENT_VOTE');
    expect(refusal(castVote(request({ requester: 'triage-agent' }), agent, approve, NOW))).toBe('APPROVAL_AGENT_VOTE');
  });

  it('refuses an approver of another project with FORBIDDEN naming the permission and project', () => {
    const result = castVote(request(), person('dave', { roles: { payments: ['approver'] } }), approve, NOW);
    expect(result).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: expect.stringContaining('lacks approvals:decide in project "shop"') });
    expect(refusal(castVote(request(), person('erin', { roles: { shop: ['operator'] } }), approve, NOW))).toBe('FORBIDDEN');
  });

  it('refuses an approver outside the required groups, and accepts anyone eligible when no group is required', () => {
    const frank = person('frank', { groups: ['sre'] });
    expect(castVote(request(), frank, approve, NOW)).toMatchObject({ ok: false, code: 'APPROVAL_GROUP_REQUIRED', reason: expect.stringContaining('Only members of change-board') });
    expect(castVote(request({ requirement: { quorum: 1, groups: [], expiresAt: NOW + 1 } }), frank, approve, NOW)).toMatchObject({ ok: true, request: { status: 'granted' } });
  });

  it('refuses a second vote by the same principal', () => {
    const bob = person('bob');
    const first = castVote(request(), bob, approve, NOW);
    if (!first.ok) throw new Error('refused');
    expect(refusal(castVote(first.request, bob, approve, NOW))).toBe('APPROVAL_ALREADY_VOTED');
    expect(refusal(castVote(first.request, bob, { ...approve, decision: 'deny' }, NOW))).toBe('APPROVAL_ALREADY_VOTED');
  });

  it('refuses a vote for another action hash (edited after review, or a replayed vote)', () => {
    const result = castVote(request(), person('bob'), { decision: 'approve', actionHash: 'e'.repeat(64) }, NOW);
    expect(result).toMatchObject({ ok: false, code: 'APPROVAL_HASH_MISMATCH', expire: false });
  });

  it('refuses a vote at or after expiry and asks for the request to be recorded expired', () => {
    expect(castVote(request(), person('bob'), approve, NOW + 60_000)).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED', expire: true });
    expect(castVote(request({ status: 'expired' }), person('bob'), approve, NOW)).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED', expire: false });
  });

  it.each(['granted', 'denied', 'consumed'] as const)('refuses a vote on a %s request', (status) => {
    expect(castVote(request({ status }), person('bob'), approve, NOW)).toMatchObject({ ok: false, code: 'APPROVAL_NOT_PENDING', reason: expect.stringContaining(`already ${status}`) });
  });

  it('checks in order: state, expiry, agent, permission, requester, group, repeat, hash', () => {
    const agentRequester = person('x', { kind: 'agent', roles: {}, groups: [] });
    expect(refusal(castVote(request({ status: 'consumed' }), agentRequester, { ...approve, actionHash: 'bad' }, NOW + 120_000))).toBe('APPROVAL_NOT_PENDING');
    expect(refusal(castVote(request(), agentRequester, { ...approve, actionHash: 'bad' }, NOW + 120_000))).toBe('APPROVAL_EXPIRED');
    expect(refusal(castVote(request({ requester: 'x' }), agentRequester, { ...approve, actionHash: 'bad' }, NOW))).toBe('APPROVAL_AGENT_VOTE');
    expect(refusal(castVote(request({ requester: 'x' }), person('x', { roles: {}, groups: [] }), { ...approve, actionHash: 'bad' }, NOW))).toBe('FORBIDDEN');
    expect(refusal(castVote(request({ requester: 'x' }), person('x', { groups: [] }), { ...approve, actionHash: 'bad' }, NOW))).toBe('APPROVAL_SELF_APPROVAL');
    expect(refusal(castVote(request(), person('y', { groups: [] }), { ...approve, actionHash: 'bad' }, NOW))).toBe('APPROVAL_GROUP_REQUIRED');
  });
});

describe('approvalOutcome and summarizeApproval', () => {
  it('an expired request is refused by expiry, with the approvals it had', () => {
    expect(approvalOutcome(request({ status: 'expired' }))).toEqual({ approvalId: request().id, approved: false, by: 'expiry', comment: 'no decision before 2026-01-02T03:01:00.000Z (0 of 2 approvals)' });
    expect(approvalOutcome(request())).toBeUndefined();
  });

  it('summarises risk, actions and targets, what is needed and the expiry', () => {
    expect(summarizeApproval(request())).toBe('write-prod: 1 action (ledger.append-prod on ledger/production). Needs 2 approvals from change-board; has 0. Expires 2026-01-02T03:01:00.000Z.');
  });
});
