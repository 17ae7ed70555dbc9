// Review on the real engine with the shipped example policies (issue #3): the seed scenario, a
// database restart proposed during a production freeze, is intercepted and routed to the emergency
// change board; and the re-check right before execution sends a plan whose policy changed after
// approval back to review. The copied freeze calendar is widened to every day, so the test does not
// depend on the weekday it runs on (approvals expire in real time, so the clock is not pinned).
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabaseTools, createRestartsTable } from '../fixtures/database-tools.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies', import.meta.url));

let it_: TestInterlock;
let policies: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  policies = await mkdtemp(join(tmpdir(), 'interlock-policies-'));
  await cp(EXAMPLES, policies, { recursive: true, filter: (source) => !source.includes('/tests') });
  const freeze = join(policies, 'production-freeze.yaml');
  const weekly = 'rrule: FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0\n          duration: P2DT16H';
  const text = await readFile(freeze, 'utf8');
  expect(text).toContain(weekly);
  await writeFile(freeze, text.replace(weekly, 'rrule: FREQ=DAILY;BYHOUR=0;BYMINUTE=0\n          duration: P1D'));
  const config = join(tmpdir(), `interlock-review-${process.pid}.yaml`); // outside the policy directory
  await writeFile(config, `policy:\n  dir: ${policies}\n`);
  it_ = await startTestInterlock('review', { env: { INTERLOCK_CONFIG: config }, extraTools: (pool) => createDatabaseTools(() => pool) });
  await createRestartsTable(it_.ledger);
  for (const [name, groups] of [['erin', ['emergency-change-board']], ['frank', ['emergency-change-board']], ['grace', ['change-board']]] as const) {
    tokens[name] = (await createPrincipalWithToken(it_.running, { name, kind: 'human', groups: [...groups], roles: { '*': ['approver'] } })).token;
  }
});

afterAll(async () => {
  await it_?.close();
  await rm(policies, { recursive: true, force: true });
});

async function pendingApproval(missionId: string): Promise<{ id: string; actionHash: string; requirement: { quorum: number; groups: string[] } }> {
  return it_.pendingApproval(missionId);
}

async function vote(approval: { id: string; actionHash: string }, voter: string): Promise<{ status: number; json: any }> {
  return it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash }, tokens[voter]);
}

describe('the seed scenario', () => {
  it('a database restart during a production freeze is routed to the emergency change board, then runs once approved', async () => {
    const { status, json } = await it_.post('/v1/missions', {
      title: 'restart orders-db: connection storm',
      steps: [{ tool: 'postgres.restart', args: { service: 'orders-db', environment: 'production' } }],
    });
    expect(status).toBe(201);
    const waiting = await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval');
    expect(waiting.decision?.effect).toBe('require_approval');
    expect(waiting.decision?.reasons.map((r) => r.rule)).toEqual(expect.arrayContaining(['production-freeze/freeze-database-restarts', 'production-freeze/freeze-writes']));
    const approval = await pendingApproval(waiting.id);
    expect(approval.requirement).toMatchObject({ quorum: 2, groups: ['emergency-change-board'] });

    // The regular change board is not enough; the emergency board's quorum of two is.
    expect((await vote(approval, 'grace')).json.error.code).toBe('APPROVAL_GROUP_REQUIRED');
    expect((await vote(approval, 'erin')).status).toBe(200);
    expect((await it_.running.engine.get(waiting.id)).waitingFor).toBe('approval');
    const { rows: before } = await it_.ledger.query('select count(*)::int as n from database_restarts');
    expect(before[0].n).toBe(0);
    expect((await vote(approval, 'frank')).status).toBe(200);

    const done = await it_.waitFor(waiting.id);
    expect(done.outcome).toBe('resolved');
    const { rows } = await it_.ledger.query("select service, environment from database_restarts where service = 'orders-db'");
    expect(rows).toEqual([{ service: 'orders-db', environment: 'production' }]);
  });
});

describe('the re-check before execution', () => {
  it('[GOV-RECHECK] a plan approved under one policy set is approved again when the policy changed before it ran', async () => {
    const { json } = await it_.post('/v1/missions', {
      title: 'restart orders-db again',
      steps: [{ tool: 'postgres.restart', args: { service: 'orders-db', environment: 'production' } }],
    });
    const first = await pendingApproval((await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval')).id);
    // The policy set changes while the request is pending: a new rule, the same effect, another digest.
    await writeFile(join(policies, 'audit-note.yaml'), [
      'apiVersion: interlock.dev/v1', 'kind: Policy', 'metadata: { name: audit-note }', 'spec:', '  rules:',
      '    - name: restarts-need-approval', '      match: tool.name == "postgres.restart"', '      effect: require_approval',
      '      approval: { quorum: 1, expiresIn: PT1H }', '      message: every restart is approved',
    ].join('\n'));
    const reload = await it_.running.policy.reload();
    expect(reload).toMatchObject({ ok: true, changed: true });
    await vote(first, 'erin');
    await vote(first, 'frank');

    // The grant no longer fits the plan under the new policy: a second request, nothing ran yet.
    const second = await it_.waitFor(json.mission.id, (m) => m.waitingFor === 'approval' && m.decision?.reasons.some((r) => r.rule === 'review/recheck') === true);
    expect(second.decision?.reasons.find((r) => r.rule === 'review/recheck')?.message).toMatch(/no longer applies/);
    const again = await pendingApproval(second.id);
    expect(again.id).not.toBe(first.id);
    expect(again.actionHash).not.toBe(first.actionHash);
    const { rows: mid } = await it_.ledger.query('select count(*)::int as n from database_restarts where idempotency_key like $1', [`${second.id}%`]);
    expect(mid[0].n).toBe(0);

    await vote(again, 'erin');
    await vote(again, 'frank');
    const done = await it_.waitFor(second.id);
    expect(done.outcome).toBe('resolved');
    const { json: all } = await it_.get(`/v1/approvals?mission=${done.id}`);
    expect(all.approvals.map((a: { id: string; status: string }) => [a.id === first.id ? 'first' : 'second', a.status]).sort()).toEqual([['first', 'granted'], ['second', 'consumed']]);
  });
});
