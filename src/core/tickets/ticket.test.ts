import { describe, expect, it } from 'vitest';
import type { MissionDetail, MissionStep } from '../missions/mission.js';
import type { Outcome } from '../missions/stages.js';
import { foldMissionEnd, MAX_HYPOTHESES, missionReason, ticketMessage, type Ticket } from './ticket.js';

const INCIDENT = '0b6a4d8e-5a43-4f0c-9d7e-2d0c1c7f0a11';
const DIAGNOSIS_MISSION = '11111111-1111-4111-8111-111111111111';
const REMEDIATION_MISSION = '22222222-2222-4222-8222-222222222222';

function step(overrides: Partial<MissionStep> & Pick<MissionStep, 'stepId' | 'tool'>): MissionStep {
  return {
    missionId: DIAGNOSIS_MISSION, phase: 'plan', index: 0, args: {}, risk: 'read', idempotencyKey: `${overrides.missionId ?? DIAGNOSIS_MISSION}:${overrides.stepId}`,
    status: 'succeeded', attempts: 1, result: null, error: null, startedAt: 1_000, finishedAt: 2_000, ...overrides,
  };
}

function mission(overrides: Partial<MissionDetail> & { id: string; outcome: Outcome }): MissionDetail {
  const closing = overrides.outcome === 'escalated' ? 'escalate' : 'close';
  const request: MissionDetail['request'] = { title: 'm', project: 'shop', requester: 'interlock-intake', context: [], steps: [{ tool: 'builtin.noop', args: {} }], verify: [], labels: {}, shadow: false };
  return {
    title: 'Diagnose HighErrorRate (service=checkout)', project: 'shop', requester: 'interlock-intake', idempotencyKey: null,
    labels: { incident: INCIDENT }, request, stage: closing, waitingFor: null, risk: 'read', decision: null, escalation: null,
    workflowVersion: 'mission-v1', cancelRequested: false, createdAt: 500, updatedAt: 3_000, finishedAt: 3_000, steps: [],
    history: [{ seq: 1, from: null, to: 'intake', reason: 'created', at: 500 }, { seq: 2, from: 'intake', to: closing, reason: 'every step succeeded and verification passed', at: 3_000 }],
    ...overrides,
  };
}

const diagnosisResult = {
  incidentId: INCIDENT, engine: 'builtin-v1',
  hypotheses: [
    { id: 'pool:db', kind: 'connection_pool_exhaustion', service: 'db', summary: 'pool saturated', confidence: 0.2 },
    { id: 'deploy:checkout', kind: 'deploy_regression', service: 'checkout', summary: 'errors began 40 s after deploy v2.3.1', confidence: 0.81 },
    { id: 'leak:checkout', kind: 'memory_leak', service: 'checkout', summary: 'heap grows', confidence: 0.1 },
    { id: 'unknown', kind: 'unknown', service: null, summary: '', confidence: 0.05 },
  ],
};

const diagnosisMission = mission({
  id: DIAGNOSIS_MISSION, outcome: 'resolved',
  steps: [
    step({ stepId: 'c1', phase: 'context', tool: 'prometheus.query_range', args: { query: 'up' }, result: { series: [] } }),
    step({ stepId: 'diagnose', tool: 'diagnosis.run', args: { incidentId: INCIDENT }, result: diagnosisResult }),
  ],
});

const remediation = (outcome: Outcome, extra: Partial<Omit<MissionDetail, 'outcome'>> = {}): MissionDetail => mission({
  id: REMEDIATION_MISSION, outcome, title: 'Roll back checkout', labels: { incident: INCIDENT, service: 'checkout' }, createdAt: 4_000, updatedAt: 9_000, finishedAt: 9_000,
  steps: [
    step({ missionId: REMEDIATION_MISSION, stepId: 's1', tool: 'releases.rollback', risk: 'write-prod', args: { service: 'checkout', to: 'v2.3.0', apiToken: 'hunter2' }, result: { release: 'v2.3.0' }, status: outcome === 'escalated' ? 'compensated' : 'succeeded', finishedAt: 5_000 }),
    ...(outcome === 'escalated'
      ? [
          step({ missionId: REMEDIATION_MISSION, stepId: 'v1', phase: 'verification', tool: 'prometheus.check', result: { ok: false, observed: 'error ratio 0.31 > 0.05' }, finishedAt: 7_000 }),
          step({ missionId: REMEDIATION_MISSION, stepId: 's1.undo', phase: 'compensation', tool: 'releases.rollforward', risk: 'write-prod', args: { service: 'checkout', to: 'v2.3.1' }, result: { release: 'v2.3.1' }, finishedAt: 8_000 }),
        ]
      : []),
  ],
  ...extra,
});

const subject = { id: 'INC-7', incidentId: INCIDENT, title: 'HighErrorRate (service=checkout)' };

describe('foldMissionEnd', () => {
  it('opens a ticket from a diagnosis mission: the top hypotheses best first, status open, no write actions', () => {
    const fold = foldMissionEnd(undefined, diagnosisMission, subject);
    expect(fold).toMatchObject({ change: 'opened', previousStatus: null, events: ['ticket.opened'] });
    const { ticket } = fold;
    expect(ticket).toMatchObject({ id: 'INC-7', incidentId: INCIDENT, project: 'shop', title: 'HighErrorRate (service=checkout)', status: 'open', outcome: 'resolved', service: 'checkout', createdAt: 3_000 });
    expect(ticket.diagnosis).toEqual({
      missionId: DIAGNOSIS_MISSION, engine: 'builtin-v1',
      hypotheses: [
        { kind: 'deploy_regression', service: 'checkout', confidence: 0.81, summary: 'errors began 40 s after deploy v2.3.1' },
        { kind: 'connection_pool_exhaustion', service: 'db', confidence: 0.2, summary: 'pool saturated' },
        { kind: 'memory_leak', service: 'checkout', confidence: 0.1, summary: 'heap grows' },
      ],
    });
    expect(ticket.diagnosis?.hypotheses).toHaveLength(MAX_HYPOTHESES);
    expect(ticket.actions.map((a) => [a.stepId, a.tool, a.result])).toEqual([['diagnose', 'diagnosis.run', '4 hypothesis(es)']]);
    expect(ticket.timeline.map((e) => e.kind)).toEqual(['diagnosis', 'mission', 'opened']);
    expect(ticket.timeline[0]?.message).toContain('deploy_regression in checkout (confidence 0.81)');
  });

  it('resolves the ticket when a later mission of the incident executes writes and ends resolved, keeping the diagnosis', () => {
    const opened = foldMissionEnd(undefined, diagnosisMission, subject).ticket;
    const fold = foldMissionEnd(opened, remediation('resolved'), { ...subject, id: 'INC-99' });
    expect(fold).toMatchObject({ change: 'updated', previousStatus: 'open', events: ['ticket.resolved'] });
    const { ticket } = fold;
    expect(ticket).toMatchObject({ id: 'INC-7', status: 'resolved', outcome: 'resolved', reason: 'every step succeeded and verification passed', createdAt: 3_000, updatedAt: 9_000 });
    expect(ticket.diagnosis?.missionId).toBe(DIAGNOSIS_MISSION);
    expect(ticket.missions.map((m) => [m.id, m.outcome])).toEqual([[DIAGNOSIS_MISSION, 'resolved'], [REMEDIATION_MISSION, 'resolved']]);
    expect(ticket.actions.at(-1)).toMatchObject({ missionId: REMEDIATION_MISSION, stepId: 's1', tool: 'releases.rollback', status: 'succeeded', result: '{"release":"v2.3.0"}', compensation: null });
    expect(ticket.timeline.at(-1)).toMatchObject({ kind: 'status', message: 'open → resolved' });
  });

  it('escalates with the reason: which verification failed, what it observed, and what was compensated', () => {
    const opened = foldMissionEnd(undefined, diagnosisMission, subject).ticket;
    const escalated = remediation('escalated', {
      escalation: { reason: 'verification v1 (prometheus.check) did not pass within 60000 ms: error ratio 0.31 > 0.05', stepId: 'v1', evidence: {} },
    });
    const fold = foldMissionEnd(opened, escalated, subject);
    expect(fold.events).toEqual(['ticket.escalated']);
    expect(fold.ticket.status).toBe('escalated');
    expect(fold.ticket.reason).toBe('verification v1 (prometheus.check) did not pass within 60000 ms: error ratio 0.31 > 0.05; compensated s1 with releases.rollforward: succeeded');
    expect(fold.ticket.actions.at(-1)).toMatchObject({
      stepId: 's1', status: 'compensated',
      compensation: { stepId: 's1.undo', tool: 'releases.rollforward', status: 'succeeded', args: { service: 'checkout', to: 'v2.3.1' } },
    });
    expect(fold.ticket.timeline.filter((e) => e.missionId === REMEDIATION_MISSION).map((e) => e.kind)).toEqual(['action', 'verification', 'compensation', 'mission', 'status']);
    expect(ticketMessage(fold.ticket, 'ticket.escalated')).toMatch(/^INC-7 escalated: HighErrorRate \(service=checkout\) — verification v1/);
  });

  it('opens an escalated ticket with both events, most important first', () => {
    const fold = foldMissionEnd(undefined, remediation('escalated', { escalation: { reason: 'step s1 failed', stepId: 's1', evidence: {} } }), subject);
    expect(fold.events).toEqual(['ticket.escalated', 'ticket.opened']);
    expect(fold.ticket.status).toBe('escalated');
  });

  it('redacts secrets in the arguments it keeps', () => {
    const { ticket } = foldMissionEnd(undefined, remediation('resolved'), subject);
    expect(ticket.actions[0]?.args).toEqual({ service: 'checkout', to: 'v2.3.0', apiToken: '[REDACTED]' });
    expect(JSON.stringify(ticket)).not.toContain('hunter2');
  });

  it('changes nothing when the same mission is reported again', () => {
    const once = foldMissionEnd(undefined, diagnosisMission, subject).ticket;
    const twice = foldMissionEnd(once, diagnosisMission, { ...subject, id: 'INC-8' });
    expect(twice).toEqual({ ticket: once, change: 'unchanged', previousStatus: 'open', events: [] });
  });

  it('leaves the status alone for missions that act on nothing: suggested, denied, shadowed', () => {
    const escalated = foldMissionEnd(undefined, remediation('escalated', { escalation: { reason: 'x', stepId: null, evidence: {} } }), subject).ticket;
    for (const outcome of ['suggested', 'denied', 'shadowed', 'cancelled'] as const) {
      const other = mission({ id: '33333333-3333-4333-8333-333333333333', outcome, history: [{ seq: 1, from: null, to: 'close', reason: `the plan was ${outcome}`, at: 10_000 }] });
      const fold = foldMissionEnd(escalated, other, subject);
      expect(fold.ticket.status, outcome).toBe('escalated');
      expect(fold.events, outcome).toEqual([]);
      expect(fold.ticket.reason, outcome).toBe(`the plan was ${outcome}`);
    }
  });

  it('refuses a mission that has not ended', () => {
    expect(() => foldMissionEnd(undefined, { ...diagnosisMission, outcome: null }, subject)).toThrow(/has not ended/);
  });
});

describe('missionReason', () => {
  it('names a failed compensation with its error', () => {
    const detail = remediation('escalated', { escalation: { reason: 'step s2 failed', stepId: 's2', evidence: {} } });
    const failedUndo = { ...detail, steps: detail.steps.map((s) => (s.phase === 'compensation' ? { ...s, status: 'failed' as const, error: { code: 'TOOL_FAILED', message: 'release API down', retryable: true, outcomeUnknown: false } } : s)) };
    expect(missionReason(failedUndo)).toBe('step s2 failed; compensated s1 with releases.rollforward: failed (release API down)');
  });

  it('falls back to the outcome when the history has no closing transition', () => {
    const ticket: Ticket = foldMissionEnd(undefined, { ...diagnosisMission, history: [] }, subject).ticket;
    expect(ticket.reason).toBe('mission resolved');
  });
});
