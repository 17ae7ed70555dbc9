// The audit log on the real engine (issue #4): every stage, decision, tool call and result of a mission
// is appended to it, and the engine fails closed: while the database refuses writes to the audit
// table, the write step it would record does not run and the mission shows `waitingFor: audit`; when
// the audit log is back, the mission continues and nothing is done twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;

beforeAll(async () => {
  it_ = await startTestInterlock('audit');
});

afterAll(async () => {
  await it_?.close();
});

/** Makes PostgreSQL refuse every new audit entry, as a full disk or a revoked grant would. */
async function refuseAuditWrites(): Promise<void> {
  await it_.ledger.query(`create or replace function interlock.test_refuse_audit() returns trigger language plpgsql as $$
    begin raise exception 'audit storage unavailable (test)'; end $$`);
  await it_.ledger.query('create trigger test_refuse_audit before insert on interlock.audit_entries for each row execute function interlock.test_refuse_audit()');
}

async function allowAuditWrites(): Promise<void> {
  await it_.ledger.query('drop trigger if exists test_refuse_audit on interlock.audit_entries');
}

async function kinds(missionId: string): Promise<string[]> {
  const { rows } = await it_.ledger.query<{ kind: string }>('select kind from interlock.audit_entries where mission_id = $1 order by idx', [missionId]);
  return rows.map((r) => r.kind);
}

async function ledgerSteps(missionId: string): Promise<string[]> {
  const { rows } = await it_.ledger.query<{ step_id: string }>('select step_id from ledger where mission_id = $1 order by id', [missionId]);
  return rows.map((r) => r.step_id);
}

describe('audit entries of a mission', () => {
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
      'stage.transition', // close
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
    await refuseAuditWrites();
    try {
      const paused = await it_.waitFor(mission.id, (m) => m.waitingFor === 'audit', 15_000);
      expect(paused.outcome).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(await ledgerSteps(mission.id)).toEqual(['s1']);
      expect((await it_.running.engine.get(mission.id)).steps.find((s) => s.stepId === 's2')?.attempts).toBe(0);
    } finally {
      await allowAuditWrites();
    }
    const done = await it_.waitFor(mission.id, undefined, 30_000);
    expect(done.outcome).toBe('resolved');
    expect(done.waitingFor).toBeNull();
    expect(await ledgerSteps(mission.id)).toEqual(['s1', 's2']);
    expect((await kinds(mission.id)).filter((k) => k === 'tool.called')).toHaveLength(2);
  }, 60_000);

  it('refuses a mission request with 503 AUDIT_UNAVAILABLE when the audit log cannot record it, storing nothing', async () => {
    const before = (await it_.running.engine.list({ limit: 500 })).length;
    await refuseAuditWrites();
    try {
      const { status, json } = await it_.post('/v1/missions', { title: 'not on the record', steps: [{ tool: 'builtin.noop' }] });
      expect(status).toBe(503);
      expect(json.error.code).toBe('AUDIT_UNAVAILABLE');
    } finally {
      await allowAuditWrites();
    }
    expect((await it_.running.engine.list({ limit: 500 })).length).toBe(before);
  });
});
