// The governed loop on the real engine (DBOS on the machine's PostgreSQL), through the HTTP API:
// the happy path, partial failure with a saga, failed verification, the approval wait and cancel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;

let approverToken: string;

beforeAll(async () => {
  it_ = await startTestInterlock('engine');
  ({ token: approverToken } = await createPrincipalWithToken(it_.running, { name: 'bob', kind: 'human', roles: { '*': ['approver'] } }));
});

afterAll(async () => {
  await it_?.close();
});

// Each mission names its own service, so the circuit breaker (which counts writes of one tool on one
// target across missions) does not link the tests to each other.
const ledgerSteps = (n: number, overrides: Record<number, Record<string, unknown>> = {}) =>
  Array.from({ length: n }, (_, i) => ({ tool: 'ledger.append', args: { amount: i + 1, ...overrides[i + 1] } }));

async function ledgerRows(missionId: string): Promise<Array<{ step_id: string; amount: number }>> {
  const { rows } = await it_.ledger.query('select step_id, amount from ledger where mission_id = $1 order by id', [missionId]);
  return rows;
}

describe('a mission through the governed loop', () => {
  it('runs a 5-step plan through every stage, once each, and closes resolved', async () => {
    const { status, json } = await it_.post('/v1/missions', { title: 'five writes', labels: { service: 'five-writes' }, context: [{ tool: 'builtin.noop', args: { note: 'evidence' } }], steps: ledgerSteps(5) });
    expect(status).toBe(201);
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('resolved');
    expect(mission.history.map((t) => t.to)).toEqual(['intake', 'context', 'plan', 'review', 'execute', 'verify', 'close']);
    expect(mission.history.map((t) => t.from)).toEqual([null, 'intake', 'context', 'plan', 'review', 'execute', 'verify']);
    expect(mission.steps.map((s) => [s.stepId, s.status, s.attempts])).toEqual([
      ['c1', 'succeeded', 1], ['s1', 'succeeded', 1], ['s2', 'succeeded', 1], ['s3', 'succeeded', 1], ['s4', 'succeeded', 1], ['s5', 'succeeded', 1],
    ]);
    expect(mission.steps.find((s) => s.stepId === 's3')?.idempotencyKey).toBe(`${mission.id}:s3`);
    expect(await ledgerRows(mission.id)).toEqual([1, 2, 3, 4, 5].map((n) => ({ step_id: `s${n}`, amount: n })));
  });

  it('step 4 of 5 failing for good compensates 3, 2, 1 in that order and escalates with the evidence', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'partial failure', labels: { service: 'partial-failure' }, steps: ledgerSteps(5, { 4: { fail: true } }) });
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('escalated');
    expect(mission.stage).toBe('escalate');
    const { rows: undone } = await it_.ledger.query('select step_id from ledger_undo where mission_id = $1 order by id', [mission.id]);
    expect(undone.map((r) => r.step_id)).toEqual(['s3.undo', 's2.undo', 's1.undo']);
    expect(mission.steps.filter((s) => s.phase === 'plan').map((s) => s.status)).toEqual(['compensated', 'compensated', 'compensated', 'failed', 'pending']);
    expect(mission.escalation?.stepId).toBe('s4');
    expect(mission.escalation?.reason).toMatch(/step s4 \(ledger\.append\) failed: the ledger refused the entry/);
    expect(mission.escalation?.evidence).toMatchObject({
      error: { code: 'TOOL_FAILED', retryable: false },
      compensations: [{ stepId: 's3', status: 'compensated' }, { stepId: 's2', status: 'compensated' }, { stepId: 's1', status: 'compensated' }],
    });
    expect(await ledgerRows(mission.id)).toHaveLength(3);
  });

  it('a fix whose verification fails is compensated and escalated', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'bad fix', labels: { service: 'bad-fix' }, steps: ledgerSteps(2, { 2: { failVerification: true } }) });
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('escalated');
    expect(mission.history.map((t) => t.to)).toContain('verify');
    expect(mission.escalation?.reason).toMatch(/verification of step s2 .* failed/);
    const { rows: undone } = await it_.ledger.query('select step_id from ledger_undo where mission_id = $1 order by id', [mission.id]);
    expect(undone.map((r) => r.step_id)).toEqual(['s2.undo', 's1.undo']);
  });

  it("re-observes with the mission's verifications after the plan ran, and closes once they hold for their window", async () => {
    const { status, json } = await it_.post('/v1/missions', {
      title: 'verified fix', labels: { service: 'verified-fix' }, steps: ledgerSteps(2),
      verify: [{ tool: 'ledger.balance', args: { atLeast: 3 }, windowMs: 300, intervalMs: 100, timeoutMs: 5000 }],
    });
    expect(status, JSON.stringify(json)).toBe(201);
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('resolved');
    const check = mission.steps.find((s) => s.phase === 'verification');
    expect(check).toMatchObject({ stepId: 'v1', tool: 'ledger.balance', status: 'succeeded', result: { ok: true, observed: 'balance 3, at least 3' } });
    // Held for 300 ms at 100 ms intervals: several checks, recorded as one step.
    expect(check!.attempts).toBeGreaterThanOrEqual(4);
    const { json: entries } = await it_.get(`/v1/audit/entries?mission=${mission.id}&kind=verification.checked`);
    expect(entries.entries.map((e: { entry: { data: { stepId: string; ok: boolean } } }) => [e.entry.data.stepId, e.entry.data.ok])).toEqual([['s1', true], ['s2', true], ['v1', true]]);
  });

  it('a verification that does not hold within its timeout compensates the plan and escalates with what it observed', async () => {
    const { json } = await it_.post('/v1/missions', {
      title: 'unverified fix', labels: { service: 'unverified-fix' }, steps: ledgerSteps(2),
      verify: [{ id: 'balance', tool: 'ledger.balance', args: { atLeast: 10 }, intervalMs: 100, timeoutMs: 1000 }],
    });
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('escalated');
    expect(mission.escalation?.stepId).toBe('balance');
    expect(mission.escalation?.reason).toMatch(/verification balance \(ledger\.balance\) failed within 1000 ms: balance 3, below 10/);
    expect(mission.escalation?.evidence).toMatchObject({ compensations: [{ stepId: 's2', status: 'compensated' }, { stepId: 's1', status: 'compensated' }] });
    expect(mission.steps.find((s) => s.stepId === 'balance')).toMatchObject({ phase: 'verification', status: 'failed', error: { code: 'VERIFICATION_FAILED' } });
  });

  it('a mission with notBefore waits for it durably (waitingFor schedule), then runs; a cancel ends the wait', async () => {
    const due = Date.now() + 1500;
    const { json } = await it_.post('/v1/missions', { title: 'due later', labels: { service: 'due-later' }, steps: ledgerSteps(1), notBefore: due });
    const waiting = await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'schedule');
    expect(waiting).toMatchObject({ stage: 'intake', outcome: null });
    expect(await ledgerRows(json.mission.id)).toEqual([]);
    const mission = await it_.waitFor(json.mission.id);
    expect(mission.outcome).toBe('resolved');
    const ran = mission.history.find((t) => t.to === 'context');
    expect(ran!.at).toBeGreaterThanOrEqual(due);

    const { json: later } = await it_.post('/v1/missions', { title: 'due much later', labels: { service: 'due-much-later' }, steps: ledgerSteps(1), notBefore: Date.now() + 3_600_000 });
    await it_.waitFor(later.mission.id, (m) => m.waitingFor === 'schedule');
    expect((await it_.post(`/v1/missions/${later.mission.id}/cancel`, {})).status).toBe(202);
    const cancelled = await it_.waitFor(later.mission.id);
    expect(cancelled).toMatchObject({ outcome: 'cancelled', waitingFor: null });
    expect(await ledgerRows(later.mission.id)).toEqual([]);
  });

  it('refuses a verification that is not a read tool, naming the field', async () => {
    const { status, json } = await it_.post('/v1/missions', { title: 'write as check', steps: ledgerSteps(1), verify: [{ tool: 'ledger.append', args: { amount: 1 } }] });
    expect(status).toBe(400);
    expect(json.error.details.issues).toMatchObject([{ path: 'body.verify.0.tool', message: 'verifications must use read tools' }]);
  });
});

/** Votes on the mission's pending approval through the API as `bob`, an approver (a second identity). */
async function vote(missionId: string, decision: 'approve' | 'deny', comment?: string): Promise<void> {
  const request = await it_.pendingApproval(missionId);
  const { status, json } = await it_.post(`/v1/approvals/${request.id}/${decision}`, { actionHash: request.actionHash, ...(comment === undefined ? {} : { comment }) }, approverToken);
  expect(status, JSON.stringify(json)).toBe(200);
}

describe('review', () => {
  it('a write-prod plan waits for approval and runs only once approved', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'prod write', labels: { service: 'prod-write' }, steps: [{ tool: 'ledger.append-prod', args: { amount: 7 } }] });
    const waiting = await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval');
    expect(waiting.stage).toBe('review');
    expect(waiting.decision?.effect).toBe('require_approval');
    expect(waiting.decision?.reasons[0]?.rule).toBe('default/write-prod');
    expect(await ledgerRows(waiting.id)).toHaveLength(0);
    // A forged review message without the approval's ID changes nothing.
    await it_.running.engine.deliverReview(waiting.id, { approved: true, by: 'nobody' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await it_.running.engine.get(waiting.id)).waitingFor).toBe('approval');
    await vote(waiting.id, 'approve');
    const done = await it_.waitFor(waiting.id);
    expect(done.outcome).toBe('resolved');
    expect(done.decision?.reasons.at(-1)?.message).toBe('approved by bob');
    expect(await ledgerRows(done.id)).toHaveLength(1);
    const { json: approval } = await it_.get(`/v1/approvals?mission=${done.id}`);
    expect(approval.approvals).toEqual([expect.objectContaining({ status: 'consumed' })]);
  });

  it('a rejected plan closes denied and writes nothing', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'prod write, rejected', labels: { service: 'prod-write-rejected' }, steps: [{ tool: 'ledger.append-prod', args: { amount: 1 } }] });
    await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval');
    await vote(json.mission.id, 'deny', 'not during the sale');
    const done = await it_.waitFor(json.mission.id);
    expect(done.outcome).toBe('denied');
    expect(done.history.at(-1)?.reason).toBe('rejected by bob');
    expect(await ledgerRows(done.id)).toHaveLength(0);
  });

  it('cancelling a mission that waits for approval ends it cancelled; a second cancel is a 409', async () => {
    const { json } = await it_.post('/v1/missions', { title: 'to cancel', labels: { service: 'to-cancel' }, steps: [{ tool: 'ledger.append-prod', args: { amount: 1 } }] });
    await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval');
    const cancel = await it_.post(`/v1/missions/${json.mission.id}/cancel`);
    expect(cancel.status).toBe(202);
    const done = await it_.waitFor(json.mission.id);
    expect(done.outcome).toBe('cancelled');
    expect(done.waitingFor).toBeNull();
    const again = await it_.post(`/v1/missions/${json.mission.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('MISSION_ALREADY_FINISHED');
  });
});

describe('the rule that cannot break', () => {
  it('[GOV-GATE] every mission that wrote anything recorded a policy decision in review before it executed', async () => {
    const missions = await it_.running.engine.list({ limit: 500 });
    const details = await Promise.all(missions.map((m) => it_.running.engine.get(m.id)));
    const wrote = details.filter((m) => m.steps.some((s) => s.phase === 'plan' && s.risk.startsWith('write') && s.attempts > 0));
    expect(wrote.length).toBeGreaterThan(3);
    for (const mission of wrote) {
      const stages = mission.history.map((t) => t.to);
      expect(stages.indexOf('review'), mission.title).toBeGreaterThan(-1);
      expect(stages.indexOf('review'), mission.title).toBeLessThan(stages.indexOf('execute'));
      expect(mission.decision, mission.title).toMatchObject({ policyDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(['allow', 'require_approval'], mission.title).toContain(mission.decision?.effect);
      if (mission.decision?.effect === 'require_approval') {
        // ... and the approvals it required, for exactly that plan: a grant consumed by this mission.
        const { json } = await it_.get(`/v1/approvals?mission=${mission.id}`);
        expect(json.approvals.map((a: { status: string }) => a.status), mission.title).toContain('consumed');
      }
    }
  });
});

describe('bad input', () => {
  it('[GOV-CONTRACT] refuses an unknown tool and invented arguments before storing anything, naming each field', async () => {
    const before = (await it_.running.engine.list({ limit: 500 })).length;
    const unknown = await it_.post('/v1/missions', { title: 't', labels: { service: 't' }, steps: [{ tool: 'shell.run', args: { cmd: 'rm -rf /' } }] });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('TOOL_UNKNOWN');
    expect(unknown.json.error.details.issues).toEqual([expect.objectContaining({ path: 'body.steps.0.tool' })]);
    const invented = await it_.post('/v1/missions', { title: 't', labels: { service: 't' }, steps: [{ tool: 'ledger.append', args: { amount: 'ten', force: true } }] });
    expect(invented.status).toBe(400);
    expect(invented.json.error.code).toBe('TOOL_ARGS_INVALID');
    expect(invented.json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['body.steps.0.args', 'body.steps.0.args.amount']);
    const evidenceWrite = await it_.post('/v1/missions', { title: 't', labels: { service: 't' }, context: [{ tool: 'ledger.append', args: { amount: 1 } }], steps: [{ tool: 'builtin.noop' }] });
    expect(evidenceWrite.status).toBe(400);
    expect(evidenceWrite.json.error.details.issues[0]).toMatchObject({ path: 'body.context.0.tool', expected: 'a tool of risk class read' });
    expect((await it_.running.engine.list({ limit: 500 })).length).toBe(before);
  });

  it('answers 404 for an unknown mission', async () => {
    const response = await it_.get('/v1/missions/6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11');
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('MISSION_NOT_FOUND');
  });

  it('returns the same mission for a repeated idempotency key, and 409 for a different request under it', async () => {
    const request = { title: 'once', labels: { service: 'once' }, idempotencyKey: 'ticket-42', steps: [{ tool: 'builtin.noop' }] };
    const first = await it_.post('/v1/missions', request);
    const second = await it_.post('/v1/missions', request);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.json.mission.id).toBe(first.json.mission.id);
    const different = await it_.post('/v1/missions', { ...request, title: 'twice' });
    expect(different.status).toBe(409);
    expect(different.json.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});
