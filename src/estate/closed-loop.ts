/**
 * Follows one fault of the reference estate through Interlock's governed loop, over the HTTP API:
 * the incident its alert opened, the diagnosis mission and its top hypothesis, the runbook's
 * remediation mission through review (approving it as a second identity when asked), execution and
 * verification, to its outcome; and the times of each part. Used by `npm run demo`, the end-to-end
 * tests and the MTTR benchmark, so all three measure the same thing.
 */
import type { ApprovalView, IncidentView, InterlockApi } from '../cli/deps.js';
import type { MissionDetail } from '../core/missions/mission.js';
import type { FaultTimeline } from './fault-timeline.js';

export type { FaultTimeline } from './fault-timeline.js';

/** Options of {@link followFault}. */
export interface FollowFaultOptions {
  /** The API as an identity that may read incidents, missions and approvals. */
  readonly api: InterlockApi;
  readonly fault: string;
  /** The service whose incident to follow. */
  readonly service: string;
  /** Only an incident with an alert of this name (the fault's own alert rule). @default any alert of the service */
  readonly alert?: string;
  /** When the fault was injected, ms since the epoch; only incidents opened after it count. */
  readonly injectedAt: number;
  /**
   * Called when the remediation waits for an approval: decide (true approves) and vote as a second
   * identity; returns who decided. Without it, the follower waits for someone else to decide.
   */
  readonly decide?: (approval: ApprovalView, mission: MissionDetail) => Promise<{ readonly approved: boolean; readonly by: string }>;
  /** One line of progress per thing that happened. */
  readonly progress?: (line: string) => void;
  /** Give up after this long, ms. @default 300000 */
  readonly timeoutMs?: number;
  /** Poll interval, ms. @default 250 */
  readonly pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The first `n` hypotheses of a diagnosis step, as `kind service 0.82`. */
function rankedHypotheses(step: MissionDetail['steps'][number] | undefined, n: number): string {
  const list = (step?.result as { hypotheses?: Array<{ kind?: unknown; service?: unknown; confidence?: unknown }> } | null | undefined)?.hypotheses;
  if (!Array.isArray(list)) return '';
  return list.slice(0, n).map((h) => `${String(h.kind)} ${typeof h.service === 'string' ? h.service : '-'} ${typeof h.confidence === 'number' ? h.confidence.toFixed(2) : '?'}`).join('; ');
}

function topHypothesis(step: MissionDetail['steps'][number] | undefined): FaultTimeline['hypothesis'] {
  const list = (step?.result as { hypotheses?: Array<{ kind?: unknown; service?: unknown; confidence?: unknown }> } | null | undefined)?.hypotheses;
  const top = Array.isArray(list) ? list[0] : undefined;
  if (top === undefined || typeof top.kind !== 'string' || typeof top.confidence !== 'number') return null;
  return { kind: top.kind, service: typeof top.service === 'string' ? top.service : null, confidence: top.confidence };
}

/**
 * Waits for the fault's incident and follows it to the end of its remediation (or of its diagnosis,
 * when no runbook ran). Never throws for an outcome: an escalation, a denial or a timeout is in the
 * returned timeline (`outcome` `timeout` with the stage it stopped in as reason).
 */
export async function followFault(options: FollowFaultOptions): Promise<FaultTimeline> {
  const { api, fault, service, injectedAt } = options;
  const say = options.progress ?? ((): void => undefined);
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  const poll = options.pollMs ?? 250;
  const since = (at: number): string => `+${seconds(at - injectedAt)}`;
  let timeline: FaultTimeline = {
    fault, service, injectedAt, incidentId: null, detectedAt: null, diagnosisMissionId: null, diagnosedAt: null, hypothesis: null, runbook: null,
    remediationMissionId: null, decision: null, decidedAt: null, approval: '-', action: null, actedAt: null, verifiedAt: null, outcome: 'timeout', reason: null, mttrMs: null,
  };
  const timedOut = (where: string): FaultTimeline => ({ ...timeline, outcome: 'timeout', reason: `nothing more happened within ${seconds(options.timeoutMs ?? 300_000)}; it stopped ${where}` });

  // 1. The incident: opened after the injection, with an alert of the service.
  let incident: IncidentView | undefined;
  while (incident === undefined) {
    if (Date.now() > deadline) return timedOut('before any alert of the service opened an incident');
    const { incidents } = await api.listIncidents({ limit: 50 });
    // Opened after the injection, or an earlier incident of the same alert that it reopened.
    incident = incidents.find((candidate) => (candidate.openedAt >= injectedAt - 1000 || candidate.lastSignalAt >= injectedAt)
      && candidate.alerts.some((alert) => alert.labels.service === service && (options.alert === undefined || alert.name === options.alert) && alert.lastSeenAt >= injectedAt - 1000));
    if (incident === undefined) await sleep(poll);
  }
  const { signals } = await api.getIncident(incident.id);
  const detectedAt = Math.min(...signals.filter((signal) => signal.receivedAt >= injectedAt - 1000).map((signal) => signal.receivedAt));
  timeline = { ...timeline, incidentId: incident.id, detectedAt };
  say(`  ${since(detectedAt)}  alert ${incident.alerts.map((alert) => alert.name).join(', ')} received: incident ${incident.id.slice(0, 8)} opened`);

  // 2. The diagnosis mission the incident started (when it reopened: the one started since the injection).
  let diagnosisId: string | undefined;
  while (diagnosisId === undefined) {
    if (incident.missionId !== null && (await api.get(incident.missionId)).createdAt >= injectedAt - 1000) diagnosisId = incident.missionId;
    else {
      if (Date.now() > deadline) return timedOut('before the incident started its diagnosis mission');
      await sleep(poll);
      incident = (await api.getIncident(incident.id)).incident;
    }
  }
  timeline = { ...timeline, diagnosisMissionId: diagnosisId };
  let diagnosis = await api.get(diagnosisId);
  while (diagnosis.outcome === null) {
    if (Date.now() > deadline) return timedOut(`in the diagnosis mission (stage ${diagnosis.stage})`);
    await sleep(poll);
    diagnosis = await api.get(diagnosisId);
  }
  const diagnose = diagnosis.steps.find((step) => step.tool === 'diagnosis.run');
  const hypothesis = topHypothesis(diagnose);
  timeline = { ...timeline, diagnosedAt: diagnose?.finishedAt ?? null, hypothesis };
  if (diagnose?.finishedAt !== null && diagnose?.finishedAt !== undefined) {
    say(`  ${since(diagnose.finishedAt)}  diagnosis: ${hypothesis === null ? 'no hypothesis' : `${hypothesis.kind} in ${hypothesis.service ?? '?'} (confidence ${hypothesis.confidence.toFixed(2)})`}; ranked: ${rankedHypotheses(diagnose, 3)}`);
  }
  // The diagnosis ends by starting the remediation: through the agents' hand-off (the runbook is the
  // resolution agent's proposal) or straight through runbooks.dispatch.
  const dispatch = diagnosis.steps.find((step) => step.tool === 'agents.handoff' || step.tool === 'runbooks.dispatch');
  const raw = dispatch?.result as { missionId?: unknown; runbook?: { name?: unknown; version?: unknown }; chain?: unknown; proposal?: { runbook?: { name?: unknown; version?: unknown } | null; reasoner?: unknown } } | null | undefined;
  const dispatched = raw === null || raw === undefined ? raw : {
    missionId: raw.missionId, runbook: raw.runbook ?? raw.proposal?.runbook ?? undefined, chain: Array.isArray(raw.chain) ? (raw.chain as string[]) : undefined,
    // A plan an LLM reasoner proposed has no runbook: the reasoner stands in its place.
    reasoner: typeof raw.proposal?.reasoner === 'string' && raw.proposal.reasoner !== 'builtin' ? raw.proposal.reasoner : undefined,
  };
  if (dispatch?.status !== 'succeeded' || typeof dispatched?.missionId !== 'string') {
    const reason = diagnosis.escalation?.reason ?? 'no runbook started a remediation';
    say(`  diagnosis mission ${diagnosis.outcome}: ${reason}`);
    return { ...timeline, outcome: diagnosis.outcome, reason };
  }
  const runbook = dispatched.runbook === undefined && dispatched.reasoner !== undefined ? dispatched.reasoner : `${String(dispatched.runbook?.name)}@${String(dispatched.runbook?.version)}`;
  const remediationId = dispatched.missionId;
  timeline = { ...timeline, runbook, remediationMissionId: remediationId };
  if (dispatched.chain !== undefined) say(`  ${dispatch.finishedAt === null ? '' : `${since(dispatch.finishedAt)}  `}hand-offs ${dispatched.chain.join(' → ')}`);
  say(`  ${dispatch.finishedAt === null ? '' : `${since(dispatch.finishedAt)}  `}${dispatched.runbook === undefined ? 'plan by' : 'runbook'} ${runbook}: remediation mission ${remediationId.slice(0, 8)}`);

  // 3. The remediation mission: review (and approval), execute, verify, close or escalate.
  let mission = await api.get(remediationId);
  let seen = 0;
  let approval = 'not required';
  const reported = new Set<string>();
  for (;;) {
    for (const transition of mission.history.slice(seen)) {
      if (transition.to !== 'intake') say(`  ${since(transition.at)}  ${transition.to}: ${transition.reason}`);
    }
    seen = mission.history.length;
    for (const step of mission.steps) {
      if (step.finishedAt === null || reported.has(step.stepId)) continue;
      reported.add(step.stepId);
      const observed = (step.result as { observed?: unknown } | null)?.observed;
      say(`  ${since(step.finishedAt)}    ${step.phase === 'verification' ? 'verification' : 'step'} ${step.stepId} ${step.tool}: ${step.status}${typeof observed === 'string' ? ` (${observed})` : ''}`);
    }
    if (mission.outcome !== null) break;
    if (Date.now() > deadline) return timedOut(`in the remediation mission (stage ${mission.stage})`);
    if (mission.waitingFor === 'approval' && options.decide !== undefined) {
      const [request] = await api.listApprovals({ mission: remediationId, status: 'pending' });
      if (request !== undefined) {
        const decided = await options.decide(request, mission);
        approval = `${decided.approved ? 'approved' : 'rejected'} by ${decided.by}`;
        say(`  ${since(Date.now())}  ${approval}`);
      }
    }
    await sleep(poll);
    mission = await api.get(remediationId);
  }
  const plan = mission.steps.filter((step) => step.phase === 'plan');
  const executed = mission.history.find((transition) => transition.to === 'execute');
  const closed = mission.outcome === 'resolved' ? mission.history.find((transition) => transition.to === 'close') : undefined;
  const finished = plan.map((step) => step.finishedAt).filter((at): at is number => at !== null);
  const reasons = mission.decision?.reasons.filter((reason) => !reason.rule.startsWith('review/')).map((reason) => reason.rule) ?? [];
  const result: FaultTimeline = {
    ...timeline,
    decision: mission.decision === null ? null : `${mission.decision.reasons.some((reason) => reason.rule === 'review/person') ? 'require_approval' : mission.decision.effect} (${[...new Set(reasons)].join(', ')})`,
    decidedAt: executed?.at ?? null,
    approval: approval === 'not required' && mission.decision?.reasons.some((reason) => reason.rule === 'review/person') === true ? 'approved by someone else' : approval,
    action: plan.map((step) => `${step.tool} ${JSON.stringify(step.args)}`).join('; '),
    actedAt: finished.length === 0 ? null : Math.max(...finished),
    verifiedAt: closed?.at ?? null,
    outcome: mission.outcome ?? 'running',
    reason: mission.escalation?.reason ?? null,
    mttrMs: closed === undefined ? null : closed.at - injectedAt,
  };
  say(`  ${result.outcome}${result.mttrMs === null ? '' : `: recovered ${seconds(result.mttrMs)} after the injection`}${result.reason === null ? '' : ` (${result.reason})`}`);
  return result;
}

/** What each fault of the estate should lead to: the service and alert that detect it, the diagnosis, the runbook. */
export const FAULT_EXPECTATIONS = {
  'bad-release': { service: 'checkout', alert: 'HighHttpErrorRate', hypothesis: 'bad_deploy', runbook: 'rollback-on-error-spike' },
  'memory-leak': { service: 'catalog', alert: 'HeapGrowing', hypothesis: 'memory_leak', runbook: 'restart-on-memory-leak' },
  'pool-exhaustion': { service: 'payments', alert: 'DbPoolExhausted', hypothesis: 'pool_exhaustion', runbook: 'raise-pool-on-exhaustion' },
  'canary-regression': { service: 'checkout', alert: 'HighLatencyP99', hypothesis: 'canary_regression', runbook: 'shift-canary-traffic-back' },
  'load-surge': { service: 'catalog', alert: 'LoadNearCapacity', hypothesis: 'load_surge', runbook: 'scale-out-on-load-surge' },
} as const satisfies Record<string, { service: string; alert: string; hypothesis: string; runbook: string }>;
