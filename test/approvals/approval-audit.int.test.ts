// Votes and approval decisions in the audit log, fail closed (issue #4): a vote is stored only in
// the same transaction as its audit entries, so when the audit table refuses writes the vote is
// rolled back and answered 503 AUDIT_UNAVAILABLE; an expiry the sweep cannot record does not happen
// until it can.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/audit/entry.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { allowAuditWrites, refuseAuditWrites } from '../support/audit.js';

let it_: TestInterlock;
let bob: string;

beforeAll(async () => {
  it_ = await startTestInterlock('approval_audit');
  bob = (await createPrincipalWithToken(it_.running, { name: 'bob', kind: 'human', roles: { '*': ['approver'] } })).token;
});

afterAll(async () => {
  await it_?.close();
});

async function approvalEntries(missionId: string): Promise<AuditEntry[]> {
  const { rows } = await it_.ledger.query<{ entry: Buffer }>("select entry from interlock.audit_entries where mission_id = $1 and kind like 'approval.%' order by idx", [missionId]);
  return rows.map((row) => JSON.parse(row.entry.toString('utf8')) as AuditEntry);
}

/** The mission's pending approval request, once it is open and its `approval.requested` entry is recorded. */
async function pendingApproval(missionId: string): Promise<{ id: string; actionHash: string }> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (!(await approvalEntries(missionId)).some((e) => e.kind === 'approval.requested')) continue;
    const { json } = await it_.get(`/v1/approvals?mission=${missionId}&status=pending`);
    if (json.approvals.length === 1) return json.approvals[0];
  }
  throw new Error(`mission ${missionId} opened no approval request`);
}

describe('votes in the audit log', () => {
  it('[GOV-AUDIT-FAIL-CLOSED] a vote the audit log cannot record is rolled back and answered 503 AUDIT_UNAVAILABLE; the mission keeps waiting', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'prod write', steps: [{ tool: 'ledger.append-prod', args: { amount: 3 } }] });
    const missionId: string = json.mission.id;
    const approval = await pendingApproval(missionId);

    await refuseAuditWrites(it_.ledger);
    try {
      const refused = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash }, bob);
      expect(refused.status).toBe(503);
      expect(refused.json.error).toMatchObject({ code: 'AUDIT_UNAVAILABLE', details: { approvalId: approval.id } });
      const { json: after } = await it_.get(`/v1/approvals/${approval.id}`);
      expect(after.approval).toMatchObject({ status: 'pending', approvals: 0, votes: [] });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await it_.running.engine.get(missionId)).waitingFor).toBe('approval');
    } finally {
      await allowAuditWrites(it_.ledger);
    }
    expect((await approvalEntries(missionId)).map((e) => e.kind)).toEqual(['approval.requested']);

    // Not counted before: the same voter votes again, and this time it counts and is on the record.
    const counted = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash }, bob);
    expect(counted.status).toBe(200);
    expect((await it_.waitFor(missionId)).outcome).toBe('resolved');
    expect((await approvalEntries(missionId)).map((e) => [e.kind, e.actor])).toEqual([
      ['approval.requested', 'interlock-engine'],
      ['approval.voted', 'bob'],
      ['approval.decided', 'bob'],
      ['approval.consumed', 'interlock-engine'],
    ]);
  });

  it('records a refused vote with the voter, the code and the reason, and a vote on a stale hash with the hash presented', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'prod write, stale hash', steps: [{ tool: 'ledger.append-prod', args: { amount: 4 } }] });
    const approval = await pendingApproval(json.mission.id);
    const self = await it_.post(`/v1/approvals/${approval.id}/deny`, { actionHash: approval.actionHash, comment: 'my own' });
    expect(self.json.error.code).toBe('APPROVAL_SELF_APPROVAL');
    const stale = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: '0'.repeat(64) }, bob);
    expect(stale.json.error.code).toBe('APPROVAL_HASH_MISMATCH');
    const voted = (await approvalEntries(json.mission.id)).filter((e) => e.kind === 'approval.voted');
    expect(voted).toEqual([
      expect.objectContaining({ actor: 'test-admin', data: expect.objectContaining({ approvalId: approval.id, actionHash: approval.actionHash, decision: 'deny', comment: 'my own', counted: false, code: 'APPROVAL_SELF_APPROVAL', reason: expect.stringContaining('cannot vote on its own approval request'), voter: expect.objectContaining({ name: 'test-admin', kind: 'human' }) }) }),
      expect.objectContaining({ actor: 'bob', data: expect.objectContaining({ counted: false, code: 'APPROVAL_HASH_MISMATCH', presentedActionHash: '0'.repeat(64) }) }),
    ]);
    await it_.post(`/v1/missions/${json.mission.id}/cancel`);
    await it_.waitFor(json.mission.id);
  });
});

describe('expiry in the audit log', () => {
  it('[GOV-AUDIT-FAIL-CLOSED] the sweep expires a request only when it can record the expiry; it records it once it can', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'finished', steps: [{ tool: 'builtin.noop' }] });
    const missionId: string = json.mission.id;
    await it_.waitFor(missionId);
    const { approvalId } = await it_.running.approvals.request({
      binding: { missionId, project: 'default', policyDigest: 'd'.repeat(64), actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount: 1 }, target: { service: null, environment: null, tier: null, labels: {} } }] },
      requester: 'test-admin',
      requirement: { quorum: 1, groups: [], expiresInMs: 1 },
      reasons: [],
      risk: 'write-prod',
      now: Date.now(),
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const status = async () => (await it_.ledger.query<{ status: string }>('select status from interlock.approvals where id = $1', [approvalId])).rows[0]!.status;
    await refuseAuditWrites(it_.ledger);
    try {
      await it_.running.approvals.sweep();
      expect(await status()).toBe('pending');
    } finally {
      await allowAuditWrites(it_.ledger);
    }
    await it_.running.approvals.sweep();
    expect(await status()).toBe('expired');
    expect((await approvalEntries(missionId)).filter((e) => e.kind === 'approval.decided')).toEqual([
      expect.objectContaining({ actor: 'interlock-approvals', data: expect.objectContaining({ approvalId, status: 'expired', by: 'expiry', approvals: 0, quorum: 1 }) }),
    ]);
  });
});
