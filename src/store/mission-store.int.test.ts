import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PlannedStep } from '../core/ports.js';
import { newMission } from '../../test/support/missions.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import type { DatabaseHandle } from './database.js';
import { PgMissionStore } from './mission-store.js';
import { rejection } from '../../test/support/errors.js';

let testDb: MigratedTestDatabase;
let handle: DatabaseHandle;
let store: PgMissionStore;

beforeAll(async () => {
  testDb = await createMigratedTestDatabase('store_missions');
  handle = testDb.handle;
  store = new PgMissionStore(handle.db);
});

afterAll(async () => {
  await testDb.close();
});

/** A project name of its own, so each test sees only its own missions. */
function project(): string {
  return `p-${randomUUID().slice(0, 8)}`;
}

function plannedSteps(missionId: string): PlannedStep[] {
  return [
    { stepId: 's1', phase: 'plan', index: 0, tool: 'supervisor.restart', args: { program: 'checkout' }, risk: 'write-low', idempotencyKey: `${missionId}:s1` },
    { stepId: 'c1', phase: 'context', index: 0, tool: 'prometheus.query', args: { query: 'up' }, risk: 'read', idempotencyKey: `${missionId}:c1` },
    { stepId: 's2', phase: 'plan', index: 1, tool: 'nginx.reload', args: {}, risk: 'write-low', idempotencyKey: `${missionId}:s2` },
  ];
}

describe('createMission', () => {
  it('stores a new mission in intake and reads it back', async () => {
    const input = newMission({ project: project(), requester: 'alice', labels: { service: 'checkout' } }, 1_700_000_000_123);
    const { mission, created } = await store.createMission(input);

    expect(created).toBe(true);
    expect(mission).toEqual({
      id: input.id,
      title: 'Restart the checkout service',
      project: input.request.project,
      requester: 'alice',
      idempotencyKey: null,
      labels: { service: 'checkout' },
      request: input.request,
      stage: 'intake',
      outcome: null,
      waitingFor: null,
      risk: 'write-low',
      decision: null,
      escalation: null,
      workflowVersion: 'test-1',
      cancelRequested: false,
      createdAt: 1_700_000_000_123,
      updatedAt: 1_700_000_000_123,
      finishedAt: null,
    });
    expect(await store.getMission(input.id)).toEqual(mission);
  });

  it('returns the existing mission for a replayed create with the same ID', async () => {
    const input = newMission({ project: project() });
    const first = await store.createMission(input);
    const again = await store.createMission({ ...input, at: input.at + 5_000 });

    expect(again).toEqual({ mission: first.mission, created: false });
  });

  it('returns the existing mission for the same project, idempotency key and request', async () => {
    const request = { project: project(), idempotencyKey: 'alert-1234' };
    const first = await store.createMission(newMission(request));
    const retried = await store.createMission(newMission(request));

    expect(retried.created).toBe(false);
    expect(retried.mission.id).toBe(first.mission.id);
    expect(await store.listMissions({ project: request.project })).toHaveLength(1);
  });

  it('refuses the same idempotency key with a different request: IDEMPOTENCY_KEY_REUSED', async () => {
    const request = { project: project(), idempotencyKey: 'alert-5678' };
    const first = await store.createMission(newMission(request));

    const error = await rejection(store.createMission(newMission({ ...request, title: 'Something else entirely' })));

    expect(error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(error.message).toContain('alert-5678');
    expect(error.details).toMatchObject({ project: request.project, idempotencyKey: 'alert-5678', missionId: first.mission.id });
    expect(await store.listMissions({ project: request.project })).toHaveLength(1);
  });

  it('scopes idempotency keys to their project', async () => {
    const a = await store.createMission(newMission({ project: project(), idempotencyKey: 'shared-key' }));
    const b = await store.createMission(newMission({ project: project(), idempotencyKey: 'shared-key' }));

    expect([a.created, b.created]).toEqual([true, true]);
    expect(a.mission.id).not.toBe(b.mission.id);
  });

  it('creates exactly one mission when the same keyed request arrives twice at once', async () => {
    const request = { project: project(), idempotencyKey: 'burst' };
    const results = await Promise.all(Array.from({ length: 5 }, () => store.createMission(newMission(request))));

    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.mission.id)).size).toBe(1);
  });

  it('records the first transition and every step with the mission, in one transaction', async () => {
    const base = newMission({ project: project() }, 1_000);
    const steps = [
      { stepId: 'c1', phase: 'context' as const, index: 0, tool: 'builtin.noop', args: {}, risk: 'read' as const, idempotencyKey: `${base.id}:c1` },
      { stepId: 's1', phase: 'plan' as const, index: 0, tool: 'supervisor.restart', args: { program: 'checkout' }, risk: 'write-low' as const, idempotencyKey: `${base.id}:s1` },
    ];
    await store.createMission({ ...base, steps });
    const detail = await store.getMissionDetail(base.id);
    expect(detail?.history).toEqual([{ seq: 1, from: null, to: 'intake', reason: 'requested by a test', at: 1_000 }]);
    expect(detail?.steps.map((s) => [s.stepId, s.phase, s.status, s.attempts])).toEqual([['c1', 'context', 'pending', 0], ['s1', 'plan', 'pending', 0]]);

    // A clash in the steps rolls the mission back too: nothing half-created is left.
    const broken = newMission({ project: project() });
    const clash = { ...steps[0]!, idempotencyKey: `${base.id}:c1` };
    await expect(store.createMission({ ...broken, steps: [clash] })).rejects.toThrow();
    expect(await store.getMission(broken.id)).toBeUndefined();
  });

  it('answers undefined for unknown and malformed IDs', async () => {
    expect(await store.getMission(randomUUID())).toBeUndefined();
    expect(await store.getMission('not-a-uuid')).toBeUndefined();
    expect(await store.getMissionDetail('not-a-uuid')).toBeUndefined();
  });
});

describe('recordTransition', () => {
  it('moves the mission, keeps an ordered history, and ignores a replayed seq', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }, 1_000));

    await store.recordTransition(mission.id, 2, 'context', 'evidence queries start', 2_000);
    await store.recordTransition(mission.id, 3, 'plan', 'evidence collected', 3_000);
    // A crashed workflow replays the step that recorded transition 2.
    await store.recordTransition(mission.id, 2, 'context', 'evidence queries start', 9_000);

    const detail = await store.getMissionDetail(mission.id);
    expect(detail?.stage).toBe('plan');
    expect(detail?.updatedAt).toBe(3_000);
    expect(detail?.history).toEqual([
      { seq: 1, from: null, to: 'intake', reason: 'requested by a test', at: 1_000 },
      { seq: 2, from: 'intake', to: 'context', reason: 'evidence queries start', at: 2_000 },
      { seq: 3, from: 'context', to: 'plan', reason: 'evidence collected', at: 3_000 },
    ]);
  });

  it('applies the patch with the transition, and sets finishedAt once with the outcome', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }, 1_000));
    const escalation = { reason: 'step s1 failed', stepId: 's1', evidence: { exitCode: 1 } };

    await store.recordTransition(mission.id, 2, 'escalate', 'execution failed', 5_000, { outcome: 'escalated', escalation, waitingFor: null });
    await store.updateMission(mission.id, { outcome: 'escalated' }, 8_000);

    const stored = await store.getMission(mission.id);
    expect(stored).toMatchObject({ stage: 'escalate', outcome: 'escalated', escalation, waitingFor: null, finishedAt: 5_000, updatedAt: 8_000 });
  });

  it('refuses a seq already recorded for another stage, and an unknown mission', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }));
    await store.recordTransition(mission.id, 2, 'context', 'start', 2_000);

    const clash = await rejection(store.recordTransition(mission.id, 2, 'close', 'other', 3_000));
    expect(clash.code).toBe('INTERNAL');
    expect((await store.getMission(mission.id))?.stage).toBe('context');

    const missing = await rejection(store.recordTransition(randomUUID(), 2, 'context', 'start', 2_000));
    expect(missing.code).toBe('MISSION_NOT_FOUND');
  });
});

describe('updateMission', () => {
  it('records a wait and a decision, then clears the wait', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }, 1_000));
    const decision = { effect: 'require_approval' as const, reasons: [{ rule: 'default/write-prod', effect: 'require_approval' as const, message: 'needs approval' }] };

    await store.updateMission(mission.id, { waitingFor: 'approval', decision }, 2_000);
    expect(await store.getMission(mission.id)).toMatchObject({ waitingFor: 'approval', decision, updatedAt: 2_000, finishedAt: null });

    await store.updateMission(mission.id, { waitingFor: null }, 3_000);
    expect(await store.getMission(mission.id)).toMatchObject({ waitingFor: null, decision, updatedAt: 3_000 });

    expect((await rejection(store.updateMission(randomUUID(), { waitingFor: null }, 1))).code).toBe('MISSION_NOT_FOUND');
  });
});

describe('steps', () => {
  it('records planned steps once and lists them context first, then plan order', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }));
    const steps = plannedSteps(mission.id);

    await store.recordSteps(mission.id, steps);
    await store.updateStep(mission.id, 's1', { status: 'running', attempts: 1, startedAt: 10_000 });
    // A replay records the same plan again; the running step keeps its progress.
    await store.recordSteps(mission.id, steps);

    const detail = await store.getMissionDetail(mission.id);
    expect(detail?.steps.map((step) => [step.stepId, step.status, step.attempts])).toEqual([
      ['c1', 'pending', 0],
      ['s1', 'running', 1],
      ['s2', 'pending', 0],
    ]);
    expect(detail?.steps[0]).toEqual({
      missionId: mission.id,
      stepId: 'c1',
      phase: 'context',
      index: 0,
      tool: 'prometheus.query',
      args: { query: 'up' },
      risk: 'read',
      idempotencyKey: `${mission.id}:c1`,
      status: 'pending',
      attempts: 0,
      result: null,
      error: null,
      startedAt: null,
      finishedAt: null,
    });
  });

  it('changes only the patched fields of a step', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }));
    await store.recordSteps(mission.id, plannedSteps(mission.id));

    await store.updateStep(mission.id, 's1', { status: 'running', attempts: 1, startedAt: 10_000 });
    await store.updateStep(mission.id, 's1', { status: 'failed', error: { code: 'TOOL_TIMEOUT', message: 'no answer in 5 s', retryable: true, outcomeUnknown: true } });
    await store.updateStep(mission.id, 's1', { status: 'succeeded', attempts: 2, result: { restarted: ['checkout'], pid: 4242 }, error: null, finishedAt: 12_500 });

    expect(await store.getStep(mission.id, 's1')).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      result: { restarted: ['checkout'], pid: 4242 },
      error: null,
      startedAt: 10_000,
      finishedAt: 12_500,
      args: { program: 'checkout' },
    });
  });

  it('keeps compensation steps after the plan and stores array results as JSON', async () => {
    const { mission } = await store.createMission(newMission({ project: project() }));
    await store.recordSteps(mission.id, plannedSteps(mission.id));
    await store.recordSteps(mission.id, [
      { stepId: 's1.undo', phase: 'compensation', index: 0, tool: 'supervisor.start', args: { program: 'checkout' }, risk: 'write-low', idempotencyKey: `${mission.id}:s1:compensate` },
    ]);
    await store.updateStep(mission.id, 's1.undo', { status: 'succeeded', result: ['a', 1, null] });

    const detail = await store.getMissionDetail(mission.id);
    expect(detail?.steps.map((step) => step.stepId)).toEqual(['c1', 's1', 's2', 's1.undo']);
    expect(await store.getStep(mission.id, 's1.undo')).toMatchObject({ result: ['a', 1, null] });
  });

  it('refuses steps of an unknown mission and updates of an unrecorded step', async () => {
    const unknown = randomUUID();
    expect((await rejection(store.recordSteps(unknown, plannedSteps(unknown)))).code).toBe('MISSION_NOT_FOUND');

    const { mission } = await store.createMission(newMission({ project: project() }));
    expect((await rejection(store.updateStep(mission.id, 'nope', { status: 'running' }))).code).toBe('INTERNAL');
    expect(await store.getStep(mission.id, 'nope')).toBeUndefined();
  });
});

describe('listMissions', () => {
  it('pages newest first with a keyset cursor, without skipping missions created in the same ms', async () => {
    const p = project();
    const created: string[] = [];
    for (const at of [1_000, 2_000, 2_000, 2_000, 3_000, 4_000, 4_000]) created.push((await store.createMission(newMission({ project: p }, at))).mission.id);

    const pages: string[][] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.listMissions({ project: p, limit: 2, ...(before === undefined ? {} : { before }) });
      if (page.length === 0) break;
      pages.push(page.map((mission) => mission.id));
      before = page[page.length - 1]?.id;
    }

    // Pages of two split the three missions created at 2_000 ms: the cursor must break ties by ID.
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
    const listed = pages.flat();
    expect([...listed].sort()).toEqual([...created].sort());
    const all = await store.listMissions({ project: p });
    expect(all.map((mission) => mission.id)).toEqual(listed);
    const times = all.map((mission) => mission.createdAt);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('filters by stage, outcome and running', async () => {
    const p = project();
    const running = (await store.createMission(newMission({ project: p }, 1_000))).mission;
    const finished = (await store.createMission(newMission({ project: p }, 2_000))).mission;
    await store.recordTransition(running.id, 2, 'context', 'start', 3_000);
    await store.recordTransition(finished.id, 2, 'close', 'denied by review', 3_000, { outcome: 'denied' });

    const ids = async (filter: Parameters<PgMissionStore['listMissions']>[0]) => (await store.listMissions({ project: p, ...filter })).map((mission) => mission.id);
    expect(await ids({ running: true })).toEqual([running.id]);
    expect(await ids({ running: false })).toEqual([finished.id]);
    expect(await ids({ stage: 'context' })).toEqual([running.id]);
    expect(await ids({ outcome: 'denied' })).toEqual([finished.id]);
    expect(await ids({ outcome: 'resolved' })).toEqual([]);
  });

  it('refuses a cursor that names no mission, and a limit out of range', async () => {
    expect((await rejection(store.listMissions({ before: randomUUID() }))).code).toBe('INPUT_INVALID');
    expect((await rejection(store.listMissions({ before: 'page-2' }))).code).toBe('INPUT_INVALID');
    expect((await rejection(store.listMissions({ limit: 0 }))).code).toBe('INPUT_INVALID');
  });
});

describe('requestCancel', () => {
  it('marks a running mission and refuses finished and unknown ones', async () => {
    const p = project();
    const running = (await store.createMission(newMission({ project: p }))).mission;
    const finished = (await store.createMission(newMission({ project: p }))).mission;
    await store.recordTransition(finished.id, 2, 'close', 'done', 2_000, { outcome: 'resolved' });

    expect(await store.requestCancel(running.id, 5_000)).toBe(true);
    expect(await store.requestCancel(running.id, 6_000)).toBe(true);
    expect(await store.getMission(running.id)).toMatchObject({ cancelRequested: true, outcome: null });

    expect(await store.requestCancel(finished.id, 5_000)).toBe(false);
    expect((await store.getMission(finished.id))?.cancelRequested).toBe(false);
    expect(await store.requestCancel(randomUUID(), 5_000)).toBe(false);
  });
});

describe('listUnstarted and countByStage', () => {
  it('lists missions stuck in intake longer than the threshold, oldest first', async () => {
    const now = 10_000_000;
    const old = (await store.createMission(newMission({ project: project() }, now - 120_000))).mission;
    const older = (await store.createMission(newMission({ project: project() }, now - 300_000))).mission;
    const fresh = (await store.createMission(newMission({ project: project() }, now - 5_000))).mission;
    const moved = (await store.createMission(newMission({ project: project() }, now - 300_000))).mission;
    await store.recordTransition(moved.id, 2, 'context', 'started', now - 290_000);

    const unstarted = await store.listUnstarted(60_000, now);

    expect(unstarted).toEqual(expect.arrayContaining([older.id, old.id]));
    expect(unstarted.indexOf(older.id)).toBeLessThan(unstarted.indexOf(old.id));
    expect(unstarted).not.toContain(fresh.id);
    expect(unstarted).not.toContain(moved.id);
  });

  it('counts missions by stage and outcome', async () => {
    const before = await store.countByStage();
    const { mission } = await store.createMission(newMission({ project: project() }));
    await store.recordTransition(mission.id, 2, 'escalate', 'gave up', Date.now(), { outcome: 'escalated' });
    await store.createMission(newMission({ project: project() }));

    const after = await store.countByStage();
    const count = (rows: typeof after, stage: string, outcome: string | null) => rows.find((row) => row.stage === stage && row.outcome === outcome)?.count ?? 0;
    expect(count(after, 'escalate', 'escalated') - count(before, 'escalate', 'escalated')).toBe(1);
    expect(count(after, 'intake', null) - count(before, 'intake', null)).toBe(1);
    expect(typeof after[0]?.count).toBe('number');
  });
});
