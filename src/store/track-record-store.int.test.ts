// The track record's facts read from a real migrated database, with missions, approvals, principals
// and audit entries recorded through the real stores in the shapes the engine writes them: a
// resolution agent's remediation missions (request.agent, labels runbook/agentChain/chain), a
// runbook-started mission found through the diagnosis mission's runbooks.dispatch step, cancellations
// by a person and by a service, and a mission outside the window.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../core/approvals/approval.js';
import { bindingHash } from '../core/approvals/binding-hash.js';
import { computeTrackRecord } from '../core/agents/track-record.js';
import type { Principal } from '../core/identity/identity.js';
import { MissionRequestSchema, stepIdempotencyKey, type Escalation, type StepError, type StepPhase, type StepStatus } from '../core/missions/mission.js';
import type { Outcome } from '../core/missions/stages.js';
import type { ApprovalBinding } from '../core/ports.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { PgApprovalStore } from './approval-store.js';
import { PgAuditLog } from './audit-log.js';
import { PgIdentityStore } from './identity-store.js';
import { PgMissionStore } from './mission-store.js';
import { PgTrackRecordStore } from './track-record-store.js';

const DAY = 86_400_000;
const NOW = Date.now();

let db: MigratedTestDatabase;
let missions: PgMissionStore;
let approvals: PgApprovalStore;
let audit: PgAuditLog;
let store: PgTrackRecordStore;
let alice: Principal;

interface StepSpec {
  readonly stepId: string;
  readonly phase?: StepPhase;
  readonly tool: string;
  readonly status: StepStatus;
  readonly result?: unknown;
  readonly error?: StepError;
}

const VERIFIED: StepSpec[] = [
  { stepId: 's1', tool: 'supervisor.restart', status: 'succeeded', result: { restarted: true } },
  { stepId: 'v1', phase: 'verification', tool: 'prometheus.check', status: 'succeeded', result: { ok: true, observed: '0.2% errors', checks: 3 } },
];

/** Records a mission as the engine does: created with its steps, steps run, then its last transition (with its `mission.closed` entry when it closes). */
async function finished(spec: {
  requester: string; agent?: string; labels?: Record<string, string>; steps?: StepSpec[]; outcome: Outcome | null; reason?: string;
  escalation?: Escalation; project?: string; at?: number; closedBy?: string;
}): Promise<string> {
  const id = randomUUID();
  const at = spec.at ?? NOW - DAY;
  const steps = spec.steps ?? VERIFIED;
  const request = MissionRequestSchema.parse({
    title: 'Restart checkout', project: spec.project ?? 'shop', requester: spec.requester, labels: spec.labels ?? {},
    ...(spec.agent === undefined ? {} : { agent: spec.agent }),
    steps: steps.filter((s) => (s.phase ?? 'plan') === 'plan').map((s) => ({ id: s.stepId, tool: s.tool })),
    verify: steps.filter((s) => s.phase === 'verification').map((s) => ({ id: s.stepId, tool: s.tool })),
  });
  await missions.createMission({
    id, request, reason: 'created', risk: 'write-low', workflowVersion: 'mission-v1', at,
    steps: steps.map((s, index) => ({ stepId: s.stepId, phase: s.phase ?? 'plan', index, tool: s.tool, args: {}, risk: s.phase === 'verification' ? 'read' : 'write-low', idempotencyKey: stepIdempotencyKey(id, s.stepId) })),
  });
  for (const s of steps) {
    await missions.updateStep(id, s.stepId, { status: s.status, attempts: 1, startedAt: at, finishedAt: at + 10, ...(s.result === undefined ? {} : { result: s.result }), ...(s.error === undefined ? {} : { error: s.error }) });
  }
  if (spec.outcome !== null) {
    const reason = spec.reason ?? spec.outcome;
    await missions.recordTransition(id, 2, spec.outcome === 'escalated' ? 'escalate' : 'close', reason, at + 100, { outcome: spec.outcome, ...(spec.escalation === undefined ? {} : { escalation: spec.escalation }) });
    await audit.append([spec.outcome === 'escalated'
      ? { schemaVersion: 1, kind: 'mission.escalated', actor: 'interlock', missionId: id, at: at + 100, data: { outcome: spec.outcome, reason, stepId: spec.escalation?.stepId ?? null, evidence: {} } }
      : { schemaVersion: 1, kind: 'mission.closed', actor: 'interlock', missionId: id, at: at + 100, data: { outcome: spec.outcome, reason, ...(spec.closedBy === undefined ? {} : { by: spec.closedBy }) } }]);
  }
  return id;
}

/** Opens an approval request for `missionId` (actions `version` apart, as a re-check would bind them) and has alice decide it; `consume` uses the grant. */
async function approval(missionId: string, decision: 'approve' | 'deny', options: { version?: number; consume?: boolean } = {}): Promise<void> {
  const binding: ApprovalBinding = {
    missionId, project: 'shop', policyDigest: `sha256:${options.version ?? 1}`,
    actions: [{ stepId: 's1', tool: 'supervisor.restart', args: {}, risk: 'write-low', target: { service: 'checkout', environment: 'production', tier: null } }],
  } as unknown as ApprovalBinding;
  const { request } = await approvals.create({ binding, requester: 'resolver', quorum: 1, groups: [], expiresAt: NOW + DAY, reasons: [], risk: 'write-low', at: NOW - DAY });
  await approvals.vote(request.id, NOW - DAY + 50, (current) => castVote(current, alice, { decision, actionHash: bindingHash(binding) }, NOW - DAY + 50));
  if (options.consume === true) expect(await approvals.consume(request.id, binding, NOW - DAY + 60)).toEqual({ ok: true });
}

const chain = (id: string) => ({ agentChain: 'triage>resolver>governor', chain: id });
const runbookLabels = { incident: randomUUID(), service: 'checkout', runbook: 'restart-on-leak', runbookVersion: '2', hypothesis: 'memory_leak' };

beforeAll(async () => {
  db = await createMigratedTestDatabase('store_track_record');
  missions = new PgMissionStore(db.handle.db);
  approvals = new PgApprovalStore(db.handle.db);
  audit = new PgAuditLog(db.handle.db);
  store = new PgTrackRecordStore(db.handle.db);
  const identity = new PgIdentityStore(db.handle.db);
  alice = await identity.createPrincipal({ name: 'alice', kind: 'human', groups: [], roles: { '*': ['approver', 'operator'] } }, NOW - 2 * DAY);
  await identity.createPrincipal({ name: 'resolver', kind: 'agent', groups: [], roles: { shop: ['operator'] } }, NOW - 2 * DAY);
  await identity.createPrincipal({ name: 'triage', kind: 'agent', groups: [], roles: { shop: ['operator'] } }, NOW - 2 * DAY);
  await identity.createPrincipal({ name: 'janitor', kind: 'service', groups: [], roles: { '*': ['operator'] } }, NOW - 2 * DAY);
});

afterAll(async () => {
  await db.close();
});

describe('PgTrackRecordStore.facts', () => {
  it('reads per-mission facts by agent and by runbook since a time, for the track record', async () => {
    const diagnosis = randomUUID();
    // 1. verified success, approved and used.
    const ok = await finished({ requester: 'resolver', agent: 'resolver', labels: { ...runbookLabels, ...chain(diagnosis) }, outcome: 'resolved' });
    await approval(ok, 'approve', { consume: true });
    // 2. denied by alice: a correction.
    const denied = await finished({ requester: 'resolver', agent: 'resolver', labels: { ...runbookLabels, ...chain(diagnosis) }, outcome: 'denied', closedBy: 'alice', steps: [{ stepId: 's1', tool: 'supervisor.restart', status: 'pending' }] });
    await approval(denied, 'deny');
    // 3. approved, the re-check found the actions changed, approved again (GOV-RECHECK): a correction, and a verified success.
    const reapproved = await finished({ requester: 'resolver', agent: 'resolver', labels: { ...runbookLabels, ...chain(diagnosis) }, outcome: 'resolved' });
    await approval(reapproved, 'approve', { version: 1 });
    await approval(reapproved, 'approve', { version: 2, consume: true });
    // 4. verification failed: escalated.
    await finished({
      requester: 'resolver', agent: 'resolver', labels: { ...runbookLabels, ...chain(diagnosis) }, outcome: 'escalated',
      steps: [VERIFIED[0]!, { stepId: 'v1', phase: 'verification', tool: 'prometheus.check', status: 'failed', result: { ok: false, observed: '9% errors', checks: 30 }, error: { code: 'VERIFICATION_FAILED', message: '9% errors', retryable: false, outcomeUnknown: false } }],
      escalation: { reason: 'verification v1 (prometheus.check) failed within 60000 ms: 9% errors', stepId: 'v1', evidence: {} },
    });
    // 5. shadowed (ceiling suggest): nothing executed.
    await finished({ requester: 'resolver', agent: 'resolver', labels: chain(diagnosis), outcome: 'shadowed', steps: [{ stepId: 's1', tool: 'supervisor.restart', status: 'skipped' }] });
    // 6. a runbook-started mission without runbook labels, found through the diagnosis mission's dispatch step.
    const started = await finished({ requester: 'interlock-runbooks', labels: { service: 'api' }, outcome: 'resolved' });
    await finished({
      requester: 'interlock-signals', labels: {}, outcome: 'resolved',
      steps: [{ stepId: 'dispatch', tool: 'runbooks.dispatch', status: 'succeeded', result: { runbook: { name: 'scale-on-surge', version: 3 }, missionId: started, followUpMissionId: null } }],
    });
    // 7. requested by an agent principal without request.agent, cancelled by alice (a correction) ...
    await finished({ requester: 'triage', outcome: 'cancelled', closedBy: 'alice', reason: 'cancelled by alice' });
    // 8. ... and one cancelled by a service (no correction), and one still running.
    await finished({ requester: 'triage', outcome: 'cancelled', closedBy: 'janitor', reason: 'cancelled by janitor' });
    await finished({ requester: 'triage', outcome: null, steps: [{ stepId: 's1', tool: 'supervisor.restart', status: 'running' }] });
    // 9. a person's mission; a mission from before the window; a mission of another project.
    await finished({ requester: 'alice', outcome: 'resolved' });
    await finished({ requester: 'resolver', agent: 'resolver', labels: runbookLabels, outcome: 'escalated', at: NOW - 40 * DAY });
    await finished({ requester: 'resolver', agent: 'resolver', labels: runbookLabels, outcome: 'resolved', project: 'ops' });

    const since = NOW - 30 * DAY;
    const facts = await store.facts({ since });
    expect(facts).toHaveLength(12);
    expect(facts.find((f) => f.missionId === reapproved)).toEqual({
      missionId: reapproved, project: 'shop', agent: 'resolver', runbook: 'restart-on-leak', runbookVersion: 2, createdAt: NOW - DAY, outcome: 'resolved',
      approvalRequests: 2, approvalsGranted: 2, approvalsDenied: 0, cancelledByPerson: false, verificationSteps: 1, verificationsPassed: 1, verificationFailed: false,
    });
    expect(facts.find((f) => f.missionId === started)).toMatchObject({ agent: null, runbook: 'scale-on-surge', runbookVersion: 3 });

    const record = computeTrackRecord({ facts: await store.facts({ since, project: 'shop' }), since, until: NOW + 1, ceilings: new Map([['resolver', 'approve'], ['triage', 'suggest']]) });
    expect(record.agents.map(({ suggestion: _s, ...figures }) => figures)).toEqual([
      {
        agent: 'resolver', projects: ['shop'], autonomyCeiling: 'approve',
        proposals: 5, approved: 3, denied: 1, corrections: 2, verifiedSuccesses: 2, failedVerifications: 1, escalations: 1, shadowed: 1, judged: 4, successRate: 0.5,
      },
      {
        agent: 'triage', projects: ['shop'], autonomyCeiling: 'suggest',
        proposals: 3, approved: 0, denied: 0, corrections: 1, verifiedSuccesses: 0, failedVerifications: 0, escalations: 0, shadowed: 0, judged: 1, successRate: 0,
      },
    ]);
    expect(record.runbooks.map((r) => [r.runbook, r.versions, r.proposals, r.verifiedSuccesses, r.failedVerifications])).toEqual([
      ['restart-on-leak', [2], 4, 2, 1],
      ['scale-on-surge', [3], 1, 1, 0],
    ]);
    expect(record.agents[0]!.suggestion).toMatchObject({ action: 'keep', from: 'approve', to: 'approve' });
  });
});
