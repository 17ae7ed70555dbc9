// The audit log on the real engine (issue #4): every stage, decision, tool call and result of a mission
// is appended to it, and the engine fails closed: while the database refuses writes to the audit
// table, the write step it would record does not run and the mission shows `waitingFor: audit`; when
// the audit log is back, the mission continues and nothing is done twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { allowAuditWrites, refuseAuditWrites } from '../support/audit.js';

let it_: TestInterlock;

beforeAll(async () => {
  it_ = await startTestInterlock('audit');
});

afterAll(async () => {
  await it_?.close();
});

async function kinds(missionId: string): Promise<string[]> {
  const { rows } = await it_.ledger.query<{ kind: string }>('select kind from interlock.audit_entries where mission_id = $1 order by idx', [missionId]);
  return rows.map((r) => r.kind);
}

async function ledgerSteps(missionId: string): Promise<string[]> {
  const { rows } = await it_.ledger.query<{ step_id: string }>('select step_id from ledger where mission_id = $1 order by id', [missionId]);
  return rows.map((r) => r.step_id);
}

describe('audit entries of a mission', () => {
  it('records a context step as the evidence it queried: source, query and the digest of the result', async () => {
    const { mission } = await it_.running.engine.create({ title: 'evidence', labels: { service: 'evidence' }, context: [{ tool: 'builtin.noop', args: {} }], steps: [{ tool: 'ledger.append', args: { amount: 3 } }] });
    expect((await it_.waitFor(mission.id)).outcome).toBe('resolved');
    const { rows } = await it_.ledger.query<{ entry: Buffer }>("select entry from interlock.audit_entries where mission_id = $1 and kind = 'evidence.queried' order by idx", [mission.id]);
    expect(rows).toHaveLength(1);
    const entry = JSON.parse(rows[0]!.entry.toString('utf8')) as { data: { source: string; query: unknown; status: string; resultSha256: string } };
    expect(entry.data).toMatchObject({ source: 'builtin.noop', query: {}, status: 'succeeded' });
    expect(entry.data.resultSha256).toMatch(/^[0-9a-f]{64}$/);
  });


  it('records every stage, the policy decision, each tool call before it runs and its result', async () => {
    const { mission } = await it_.running.engine.create({ title: 'audited', labels: { service: 'audited' }, steps: [{ tool: 'ledger.append', args: { amount: 1 } }, { tool: 'ledger.append', args: { amount: 2 } }] });
    const done = await it_.waitFor(mission.id);
    expect(done.outcome).toBe('resolved');
    expect(await kinds(mission.id)).toEqual([
      'plan.proposed',
      'stage.transition', // context
      'stage.transition', // plan
      'policy.decided',
      'stage.transition', // review
      'stage.transition', // execute
      'tool.called', 'tool.result',
      'tool.called', 'tool.result',
      'stage.transition', // verify
      'verification.checked', 'verification.checked',
      'ticket.opened', // recorded before the mission shows its outcome
      'stage.transition', // close
      'mission.closed',
    ]);
    const { rows } = await it_.ledger.query<{ entry: Buffer }>("select entry from interlock.audit_entries where mission_id = $1 and kind = 'tool.called' order by idx limit 1", [mission.id]);
    expect(JSON.parse(rows[0]!.entry.toString('utf8'))).toMatchObject({ kind: 'tool.called', actor: 'interlock-engine', missionId: mission.id, data: { stepId: 's1', tool: 'ledger.append', args: { amount: 1 }, idempotencyKey: `${mission.id}:s1` } });
  });
});

describe('fail closed', () => {
  it('a write step does not run while its audit entry cannot be stored; the mission waits and then finishes once', async () => {
    const { mission } = await it_.running.engine.create({
      title: 'audit outage mid-mission', labels: { service: 'audit-outage' },
      steps: [{ tool: 'ledger.append', args: { amount: 1, delayMs: 1000 } }, { tool: 'ledger.append', args: { amount: 2 } }],
    });
    await it_.waitFor(mission.id, (m) => m.steps.some((s) => s.stepId === 's1' && s.status === 'running'));
    await refuseAuditWrites(it_.ledger);
    try {
      const paused = await it_.waitFor(mission.id, (m) => m.waitingFor === 'audit', 15_000);
      expect(paused.outcome).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(await ledgerSteps(mission.id)).toEqual(['s1']);
      expect((await it_.running.engine.get(mission.id)).steps.find((s) => s.stepId === 's2')?.attempts).toBe(0);
    } finally {
      await allowAuditWrites(it_.ledger);
    }
    const done = await it_.waitFor(mission.id, undefined, 30_000);
    expect(done.outcome).toBe('resolved');
    expect(done.waitingFor).toBeNull();
    expect(await ledgerSteps(mission.id)).toEqual(['s1', 's2']);
    expect((await kinds(mission.id)).filter((k) => k === 'tool.called')).toHaveLength(2);
    // The mission report says where it failed closed: the first entry recorded after the outage.
    const report = await fetch(`${it_.running.url}/v1/missions/${mission.id}/report`, { headers: { authorization: `Bearer ${it_.adminToken}` } });
    expect(await report.text()).toMatch(/- Failed closed: the audit log refused this mission's entries from \S+ \(audit storage unavailable \(test\)\); the mission waited and went on only once \[#\d+\]/);
  }, 60_000);

  it('refuses a mission request with 503 AUDIT_UNAVAILABLE when the audit log cannot record it, storing nothing', async () => {
    const before = (await it_.running.engine.list({ limit: 500 })).length;
    await refuseAuditWrites(it_.ledger);
    try {
      const { status, json } = await it_.post('/v1/missions', { title: 'not on the record', steps: [{ tool: 'builtin.noop' }] });
      expect(status).toBe(503);
      expect(json.error.code).toBe('AUDIT_UNAVAILABLE');
    } finally {
      await allowAuditWrites(it_.ledger);
    }
    expect((await it_.running.engine.list({ limit: 500 })).length).toBe(before);
  });
});
