// Identity and approvals through the HTTP API of a real Interlock (in-process, on the machine's
// PostgreSQL): every refusal of issue #3's "Must show" answers with its own status, code and reason.
// Approval requests are opened through the ApprovalGate as the engine opens them; the missions they
// belong to are real (created through the API and finished).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindingHash } from '../../src/core/approvals/binding-hash.js';
import type { Principal } from '../../src/core/identity/identity.js';
import type { ApprovalBinding } from '../../src/core/ports.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;
/** API token of each principal, by name. */
const tokens: Record<string, string> = {};

const PRINCIPALS: Array<{ name: string; kind: Principal['kind']; groups?: string[]; roles: Principal['roles'] }> = [
  { name: 'alice', kind: 'human', groups: ['change-board'], roles: { shop: ['operator', 'approver'] } },
  { name: 'bob', kind: 'human', groups: ['change-board'], roles: { shop: ['approver'] } },
  { name: 'carol', kind: 'human', groups: ['change-board'], roles: { shop: ['approver'] } },
  { name: 'erin', kind: 'human', groups: ['change-board'], roles: { '*': ['approver'] } },
  { name: 'dave', kind: 'human', groups: ['change-board'], roles: { payments: ['approver', 'operator'] } },
  { name: 'frank', kind: 'human', groups: ['sre'], roles: { shop: ['approver'] } },
  { name: 'triage-agent', kind: 'agent', groups: ['change-board'], roles: { '*': ['operator', 'approver', 'admin'] } },
  { name: 'vera', kind: 'human', roles: { '*': ['viewer'] } },
];

beforeAll(async () => {
  it_ = await startTestInterlock('approvals_http');
  for (const principal of PRINCIPALS) tokens[principal.name] = (await createPrincipalWithToken(it_.running, principal)).token;
});

afterAll(async () => {
  await it_?.close();
});

/** A finished mission in project `shop` requested by `as`. */
async function mission(as: string): Promise<string> {
  const { status, json } = await it_.post('/v1/missions', { title: `requested by ${as}`, project: 'shop', steps: [{ tool: 'builtin.noop' }] }, tokens[as]);
  expect(status, JSON.stringify(json)).toBe(201);
  expect(json.mission.requester).toBe(as);
  await it_.waitFor(json.mission.id);
  return json.mission.id as string;
}

function bindingFor(missionId: string, amount = 7): ApprovalBinding {
  return {
    missionId,
    project: 'shop',
    policyDigest: 'd'.repeat(64),
    actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount }, target: { service: 'ledger', environment: 'production', tier: 'critical', labels: { team: 'payments' } } }],
  };
}

/** Opens an approval request for mission `missionId` as the engine would. */
async function request(missionId: string, requester: string, options: { quorum?: number; groups?: string[]; expiresInMs?: number } = {}) {
  return it_.running.approvals.request({
    binding: bindingFor(missionId),
    requester,
    requirement: { quorum: options.quorum ?? 1, groups: options.groups ?? ['change-board'], expiresInMs: options.expiresInMs ?? 600_000 },
    reasons: [{ rule: 'prod/ledger-writes', effect: 'require_approval', message: 'writes to the production ledger need the change board' }],
    risk: 'write-prod',
    now: Date.now(),
  });
}

const vote = (id: string, as: string, decision: 'approve' | 'deny', actionHash: string, comment?: string) =>
  it_.post(`/v1/approvals/${id}/${decision}`, { actionHash, ...(comment === undefined ? {} : { comment }) }, tokens[as]);

describe('authentication', () => {
  it('[GOV-AUTH] refuses a request without a token: 401 AUTH_REQUIRED', async () => {
    const response = await fetch(`${it_.running.url}/v1/approvals`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="interlock"');
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'AUTH_REQUIRED', message: expect.stringContaining('Authorization: Bearer') });
  });

  it('[GOV-AUTH] refuses a revoked token: 401 AUTH_TOKEN_REVOKED; a made-up one: 401 AUTH_TOKEN_INVALID', async () => {
    const { token, tokenId } = await createPrincipalWithToken(it_.running, { name: 'leaver', kind: 'human', roles: { '*': ['admin'] } });
    expect((await it_.get('/v1/missions', token)).status).toBe(200);
    await it_.running.identity.revokeToken(tokenId, Date.now());
    const revoked = await it_.get('/v1/missions', token);
    expect(revoked.status).toBe(401);
    expect(revoked.json.error).toMatchObject({ code: 'AUTH_TOKEN_REVOKED', details: { tokenId } });
    const invalid = await it_.get('/v1/missions', `il_${'0'.repeat(32)}_${'A'.repeat(43)}`);
    expect(invalid.status).toBe(401);
    expect(invalid.json.error.code).toBe('AUTH_TOKEN_INVALID');
  });

  it('refuses an expired token: 401 AUTH_TOKEN_EXPIRED', async () => {
    const { token } = await createPrincipalWithToken(it_.running, { name: 'temp', kind: 'human', roles: { '*': ['viewer'] } }, { expiresAt: Date.now() + 300 });
    expect((await it_.get('/v1/missions', token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const expired = await it_.get('/v1/missions', token);
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe('AUTH_TOKEN_EXPIRED');
  });

  it('answers the operations endpoints without a token', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await fetch(`${it_.running.url}${path}`)).status, path).toBe(200);
  });
});

describe('authorization', () => {
  it('refuses a viewer creating a mission: 403 FORBIDDEN naming missions:write and the project', async () => {
    const { status, json } = await it_.post('/v1/missions', { title: 'not allowed', project: 'shop', steps: [{ tool: 'builtin.noop' }] }, tokens.vera);
    expect(status).toBe(403);
    expect(json.error).toMatchObject({ code: 'FORBIDDEN', details: { permission: 'missions:write', project: 'shop', principal: 'vera' } });
    expect(json.error.message).toContain('vera lacks missions:write in project "shop"');
    expect((await it_.running.engine.list({ limit: 500 })).some((m) => m.title === 'not allowed')).toBe(false);
  });

  it('records the agent principal as the requester of a mission an agent creates, and refuses a claimed one', async () => {
    const id = await mission('triage-agent');
    expect((await it_.get(`/v1/missions/${id}`)).json.mission.requester).toBe('triage-agent');
    const claimed = await it_.post('/v1/missions', { title: 'as someone else', project: 'shop', requester: 'alice', steps: [{ tool: 'builtin.noop' }] }, tokens['triage-agent']);
    expect(claimed.status).toBe(400);
    expect(claimed.json.error.details.issues).toEqual([expect.objectContaining({ path: 'body.requester', expected: '"triage-agent" or no requester' })]);
  });

  it('refuses reading the approvals of a project the principal has no role in', async () => {
    const { approvalId } = await request(await mission('alice'), 'alice');
    const show = await it_.get(`/v1/approvals/${approvalId}`, tokens.dave);
    expect(show.status).toBe(403);
    expect(show.json.error.details).toMatchObject({ permission: 'approvals:read', project: 'shop' });
    const list = await it_.get('/v1/approvals', tokens.dave);
    expect(list.status).toBe(403);
    expect(list.json.error.details).toMatchObject({ permission: 'approvals:read', project: '*' });
    expect((await it_.get('/v1/approvals?project=payments', tokens.dave)).status).toBe(200);
  });
});

describe('reviewing an approval request', () => {
  it('lists and shows the request: risk summary, exact actions with arguments and targets, reasons, votes, and a hash anyone can recompute', async () => {
    const missionId = await mission('alice');
    const { approvalId, actionHash } = await request(missionId, 'alice', { quorum: 2 });
    const listed = await it_.get(`/v1/approvals?status=pending&project=shop&mission=${missionId}`, tokens.bob);
    expect(listed.status).toBe(200);
    expect(listed.json.approvals.map((a: { id: string }) => a.id)).toEqual([approvalId]);

    const { status, json } = await it_.get(`/v1/approvals/${approvalId}`, tokens.bob);
    expect(status).toBe(200);
    const approval = json.approval;
    expect(approval).toMatchObject({
      id: approvalId,
      missionId,
      project: 'shop',
      requester: 'alice',
      status: 'pending',
      risk: 'write-prod',
      actionHash,
      approvals: 0,
      votes: [],
      requirement: { quorum: 2, groups: ['change-board'] },
      reasons: [{ rule: 'prod/ledger-writes', effect: 'require_approval', message: 'writes to the production ledger need the change board' }],
      actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount: 7 }, target: { service: 'ledger', environment: 'production', tier: 'critical', labels: { team: 'payments' } }, diff: null }],
    });
    expect(approval.summary).toMatch(/^write-prod: 1 action \(ledger\.append-prod on ledger\/production\)\. Needs 2 approvals from change-board; has 0\. Expires /);
    expect(bindingHash(approval.binding)).toBe(actionHash);
  });

  it('answers 404 APPROVAL_NOT_FOUND for an unknown request', async () => {
    const response = await it_.get('/v1/approvals/6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11', tokens.bob);
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('APPROVAL_NOT_FOUND');
  });
});

describe('voting refusals', () => {
  let approvalId: string;
  let actionHash: string;

  beforeAll(async () => {
    ({ approvalId, actionHash } = await request(await mission('alice'), 'alice', { quorum: 2 }));
  });

  it('[GOV-SELF-APPROVAL] self-approval: the requester cannot vote on its own request (403 APPROVAL_SELF_APPROVAL)', async () => {
    const { status, json } = await vote(approvalId, 'alice', 'approve', actionHash);
    expect(status).toBe(403);
    expect(json.error).toMatchObject({ code: 'APPROVAL_SELF_APPROVAL', message: expect.stringContaining('alice requested mission'), details: { approvalId, principal: 'alice' } });
  });

  it('[GOV-AGENT-NO-APPROVE] [GOV-SELF-APPROVAL] an agent approving any plan, or its own: 403 APPROVAL_AGENT_VOTE, whatever its roles', async () => {
    const any = await vote(approvalId, 'triage-agent', 'approve', actionHash);
    expect(any.status).toBe(403);
    expect(any.json.error).toMatchObject({ code: 'APPROVAL_AGENT_VOTE', message: expect.stringContaining('agents never vote') });
    const own = await request(await mission('triage-agent'), 'triage-agent');
    const ownVote = await vote(own.approvalId, 'triage-agent', 'approve', own.actionHash);
    expect(ownVote.status).toBe(403);
    expect(ownVote.json.error.code).toBe('APPROVAL_AGENT_VOTE');
  });

  it('[GOV-APPROVER-SCOPE] an approver of another project: 403 FORBIDDEN naming approvals:decide and the project', async () => {
    const { status, json } = await vote(approvalId, 'dave', 'approve', actionHash);
    expect(status).toBe(403);
    expect(json.error).toMatchObject({ code: 'FORBIDDEN', details: { permission: 'approvals:decide', project: 'shop', principal: 'dave' } });
    expect(json.error.message).toContain('dave lacks approvals:decide in project "shop"');
  });

  it('[GOV-APPROVER-SCOPE] an approver outside the required groups: 403 APPROVAL_GROUP_REQUIRED', async () => {
    const { status, json } = await vote(approvalId, 'frank', 'approve', actionHash);
    expect(status).toBe(403);
    expect(json.error).toMatchObject({ code: 'APPROVAL_GROUP_REQUIRED', details: { groups: ['change-board'] }, message: expect.stringContaining('Only members of change-board') });
  });

  it('[GOV-APPROVAL-BINDING] a vote for other actions than the request\'s: 409 APPROVAL_HASH_MISMATCH', async () => {
    const { status, json } = await vote(approvalId, 'bob', 'approve', bindingHash(bindingFor('6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11')));
    expect(status).toBe(409);
    expect(json.error.code).toBe('APPROVAL_HASH_MISMATCH');
  });

  it('[GOV-QUORUM] insufficient quorum: 1 of 2 approvals leaves it pending and unusable; the same approver cannot vote twice', async () => {
    const first = await vote(approvalId, 'bob', 'approve', actionHash, 'amount checked');
    expect(first.status).toBe(200);
    expect(first.json.approval).toMatchObject({ status: 'pending', approvals: 1, votes: [{ principal: 'bob', decision: 'approve', comment: 'amount checked' }] });
    const missionId = first.json.approval.missionId as string;
    expect(await it_.running.approvals.consume(approvalId, bindingFor(missionId), Date.now())).toMatchObject({ ok: false, code: 'APPROVAL_NOT_GRANTED' });
    const again = await vote(approvalId, 'bob', 'approve', actionHash);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('APPROVAL_ALREADY_VOTED');

    const second = await vote(approvalId, 'carol', 'approve', actionHash);
    expect(second.status).toBe(200);
    expect(second.json.approval).toMatchObject({ status: 'granted', approvals: 2 });
  });

  it('[GOV-APPROVAL-SINGLE-USE] replay: a grant is used once; a second use and a vote on the consumed request are refused', async () => {
    const missionId = (await it_.get(`/v1/approvals/${approvalId}`)).json.approval.missionId as string;
    expect(await it_.running.approvals.consume(approvalId, bindingFor(missionId), Date.now())).toEqual({ ok: true });
    expect(await it_.running.approvals.consume(approvalId, bindingFor(missionId), Date.now())).toMatchObject({ ok: false, code: 'APPROVAL_ALREADY_CONSUMED' });
    const late = await vote(approvalId, 'erin', 'approve', actionHash);
    expect(late.status).toBe(409);
    expect(late.json.error).toMatchObject({ code: 'APPROVAL_NOT_PENDING', details: { status: 'consumed' } });
    expect((await it_.get(`/v1/approvals/${approvalId}`)).json.approval).toMatchObject({ status: 'consumed', consumedAt: expect.any(Number) });
  });
});

describe('after a decision', () => {
  it('[GOV-APPROVAL-BINDING] edit after approval: the engine cannot use the grant for arguments that changed', async () => {
    const missionId = await mission('alice');
    const { approvalId, actionHash } = await request(missionId, 'alice');
    expect((await vote(approvalId, 'bob', 'approve', actionHash)).json.approval.status).toBe('granted');
    const edited = await it_.running.approvals.consume(approvalId, bindingFor(missionId, 7000), Date.now());
    expect(edited).toMatchObject({ ok: false, code: 'APPROVAL_HASH_MISMATCH', reason: expect.stringContaining('changed after approval') });
    expect((await it_.get(`/v1/approvals/${approvalId}`)).json.approval.status).toBe('granted');
  });

  it('a deny by an eligible approver denies the request at once', async () => {
    const missionId = await mission('alice');
    const { approvalId, actionHash } = await request(missionId, 'alice', { quorum: 2 });
    const denied = await vote(approvalId, 'erin', 'deny', actionHash, 'not during the sale');
    expect(denied.status).toBe(200);
    expect(denied.json.approval).toMatchObject({ status: 'denied', votes: [{ principal: 'erin', decision: 'deny', comment: 'not during the sale' }] });
    expect(await it_.running.approvals.consume(approvalId, bindingFor(missionId), Date.now())).toMatchObject({ ok: false, code: 'APPROVAL_NOT_GRANTED' });
  });

  it('[GOV-APPROVAL-EXPIRY] expired approval: a vote after expiry is refused (409 APPROVAL_EXPIRED), the request shows expired and cannot be used', async () => {
    const missionId = await mission('alice');
    const { approvalId, actionHash } = await request(missionId, 'alice', { expiresInMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const late = await vote(approvalId, 'bob', 'approve', actionHash);
    expect(late.status).toBe(409);
    expect(late.json.error).toMatchObject({ code: 'APPROVAL_EXPIRED', message: expect.stringContaining('expired at') });
    expect((await it_.get(`/v1/approvals/${approvalId}`)).json.approval.status).toBe('expired');
    expect(await it_.running.approvals.consume(approvalId, bindingFor(missionId), Date.now())).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED' });
  });
});
