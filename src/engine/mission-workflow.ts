import { createHash } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { canonicalJson } from '../core/approvals/binding-hash.js';
import { InternalError } from '../core/errors.js';
import { stepIdempotencyKey, type Escalation, type MissionDetail, type MissionStep, type StepError } from '../core/missions/mission.js';
import type { Outcome, Stage } from '../core/missions/stages.js';
import type { ApprovalRequirement, PolicyEvaluator } from '../core/policy/policy.js';
import type { AuditEntryKind } from '../core/audit/entry.js';
import type { ApprovalGate, AuditLog, GuardStore, MissionPatch, MissionStore, WorkerRegistry } from '../core/ports.js';
import type { MissionEndSink } from '../core/tickets/ports.js';
import type { Decision } from '../core/review/decision.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { DEFAULT_RETRY, isWrite, type AnyToolContract, type VerificationCheck } from '../core/tools/tool.js';
import { checkGuards, type GuardSettings } from './guard-check.js';
import { reviewRound, type AutonomySettings, type ReviewRound } from './review-round.js';
import { attemptToolCall, toStepError, type AttemptResult } from './tool-call.js';

/** Name under which the mission workflow is registered with DBOS. Never change it: recovery finds workflows by name. */
export const MISSION_WORKFLOW_NAME = 'interlock.mission';

/** DBOS message topic for everything sent to a running mission (review decisions, cancel requests). */
export const CONTROL_TOPIC = 'control';

/**
 * A message to a running mission, delivered durably through DBOS `send`/`recv`: a cancel request, a
 * review decision (from the approvals module, naming the approval it decides), or a wake-up after a
 * kill switch was released.
 */
export type ControlMessage =
  | { readonly type: 'cancel'; readonly by: string }
  | { readonly type: 'review'; readonly approved: boolean; readonly by: string; readonly comment?: string; readonly approvalId?: string }
  | { readonly type: 'resume'; readonly by: string };

/**
 * Hooks the engine calls as a mission moves. Used for metrics, progress output and, in tests, crash
 * injection. `afterStep` runs after a step's result is checkpointed: on recovery after a crash the
 * hooks of replayed steps run again, so they must tolerate repeats.
 */
export interface EngineObserver {
  stageTransition?(missionId: string, to: Stage): void;
  stepFinished?(missionId: string, step: { stepId: string; tool: string; status: AttemptResult['status']; seconds: number }): void;
  afterStep?(missionId: string, stepId: string, phase: 'before' | 'after'): void | Promise<void>;
  missionFinished?(missionId: string, outcome: Outcome): void;
  /** An action ran under autonomy level `auto-notify`: people are to be told. */
  notify?(missionId: string, message: string): void;
}

/** What the mission workflow runs against; set once per process by the engine before DBOS launches. */
export interface WorkflowRuntime {
  readonly store: MissionStore;
  readonly workers: WorkerRegistry;
  readonly catalog: ToolCatalog;
  readonly workerId: string;
  /** The policy set in force (reloadable: each review round reads it once). */
  readonly policy: () => PolicyEvaluator;
  /** The approvals module; without it a review decision is any `review` message (tests, demo). */
  readonly approvals: ApprovalGate | undefined;
  readonly guards: GuardStore;
  readonly guardSettings: GuardSettings;
  readonly autonomy: AutonomySettings;
  /** How long a mission waits for a review decision when the requirement names no expiry, ms. */
  readonly approvalTimeoutMs: number;
  /** Projects whose missions run in shadow mode. */
  readonly shadowProjects: readonly string[];
  /** The approval requirement when policy gives none (an autonomy level asked for approval). */
  readonly defaultApproval: ApprovalRequirement;
  /** How often a mission parked by a kill switch re-checks it (besides the wake-up on release), ms. */
  readonly parkRecheckMs: number;
  readonly observer: EngineObserver;
  readonly now: () => number;
  readonly fenced: () => Promise<never>;
  /** Aborted when the engine stops; passed to tool calls. */
  readonly signal: AbortSignal;
  /** True for errors worth retrying a store step for (lost connection, server restarting). */
  readonly isTransient: (error: unknown) => boolean;
  /** The audit log; every stage, decision, approval, tool call and result is appended to it. */
  readonly audit: AuditLog;
  /** Where a finished mission is recorded: its incident's ticket (close | escalate, DESIGN.md). */
  readonly missionEnd?: MissionEndSink | undefined;
}

/** Thrown when the audit log cannot record what a mission is about to do: the mission waits (fails closed). */
export class AuditUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the audit log cannot record the next action (${cause instanceof Error ? cause.message : String(cause)}); the mission waits until it can`, { cause });
    this.name = 'AuditUnavailableError';
  }
}

/** Retry settings for steps that only touch the store: ride out a database restart of up to ~30 min. */
function storeRetry(rt: WorkflowRuntime): { retriesAllowed: true; intervalSeconds: number; backoffRate: number; maxAttempts: number; shouldRetry: (error: unknown) => boolean } {
  return { retriesAllowed: true, intervalSeconds: 2, backoffRate: 1, maxAttempts: 900, shouldRetry: (error) => rt.isTransient(error) || error instanceof AuditUnavailableError };
}

let runtime: WorkflowRuntime | undefined;

/** Installs the runtime the mission workflow uses in this process. */
export function setWorkflowRuntime(next: WorkflowRuntime | undefined): void {
  runtime = next;
}

function currentRuntime(): WorkflowRuntime {
  if (runtime === undefined) throw new InternalError('The mission engine is not started in this process.', { code: 'ENGINE_NOT_READY' });
  return runtime;
}

/** A finished step kept for the saga: what ran and what it returned. */
interface Completed {
  readonly step: MissionStep;
  readonly tool: AnyToolContract;
  readonly result: unknown;
}

/** The end of a mission: its outcome, and where it ended. */
export interface MissionResult {
  readonly outcome: Outcome;
  readonly stage: 'close' | 'escalate';
}

/** Thrown through the stages to end a run early with a recorded result; never escapes the workflow. */
class Stop extends Error {
  constructor(readonly result: MissionResult) {
    super(`mission ended: ${result.outcome}`);
  }
}

/**
 * One run of the governed loop for one mission, as a DBOS workflow body. Everything with an effect
 * happens inside `DBOS.runStep`, so a replay after a crash returns recorded results instead of
 * acting again; waits are durable `DBOS.recv` and timers durable `DBOS.sleep`.
 */
class MissionRun {
  #seq = 1;
  /** Since when (ms) and why the audit log has refused this run's entries; undefined while it records. */
  #auditOutage: { since: number; error: string } | undefined;
  readonly #rt: WorkflowRuntime;
  readonly #id: string;

  constructor(rt: WorkflowRuntime, missionId: string) {
    this.#rt = rt;
    this.#id = missionId;
  }

  async run(): Promise<MissionResult> {
    const mission = await DBOS.runStep(() => this.#rt.store.getMissionDetail(this.#id), { name: 'load', ...storeRetry(this.#rt) });
    if (mission === undefined) throw new InternalError(`Mission ${this.#id} has a workflow but no record.`);
    this.#seq = mission.history.length;
    if (mission.outcome !== null) return { outcome: mission.outcome, stage: mission.stage === 'escalate' ? 'escalate' : 'close' };
    try {
      await this.#waitUntilDue(mission);
      await this.#context(mission);
      await this.#plan(mission);
      const decision = await this.#review(mission);
      const completed = await this.#execute(mission, decision);
      await this.#verify(mission, completed);
      return await this.#finish('close', 'every step succeeded and verification passed', 'resolved');
    } catch (stop) {
      if (stop instanceof Stop) return stop.result;
      throw stop;
    }
  }

  /**
   * A mission with `notBefore` waits for it durably (shown as `waitingFor: schedule`), listening for
   * a cancel request meanwhile. Missions without it take no step here.
   */
  async #waitUntilDue(mission: MissionDetail): Promise<void> {
    const due = mission.request.notBefore;
    if (due === undefined) return;
    let waiting = false;
    for (;;) {
      const left = due - (await DBOS.now());
      if (left <= 0) break;
      if (!waiting) await this.#update({ waitingFor: 'schedule' });
      waiting = true;
      const message = await DBOS.recv<ControlMessage>(CONTROL_TOPIC, { timeoutSeconds: Math.ceil(left / 1000) });
      if (message?.type === 'cancel') {
        await this.#update({ waitingFor: null });
        throw await this.#finishThrow('close', `cancelled by ${message.by} before it was due`, 'cancelled', { by: message.by });
      }
    }
    if (waiting) await this.#update({ waitingFor: null });
  }

  async #context(mission: MissionDetail): Promise<void> {
    await this.#checkCancel([]);
    await this.#transition('context', mission.steps.some((s) => s.phase === 'context') ? 'gathering evidence' : 'no evidence queries requested');
    for (const step of mission.steps.filter((s) => s.phase === 'context')) {
      const tool = this.#tool(step);
      const outcome = await this.#call(step, tool);
      if (outcome.status !== 'succeeded') {
        throw await this.#escalate(`evidence query ${step.stepId} (${step.tool}) failed: ${outcome.error.message}`, step.stepId, { error: outcome.error });
      }
    }
  }

  async #plan(mission: MissionDetail): Promise<void> {
    await this.#checkCancel([]);
    const planned = mission.steps.filter((s) => s.phase === 'plan');
    const missing = planned.filter((s) => this.#rt.catalog.find(s.tool) === undefined).map((s) => s.tool);
    if (missing.length > 0) {
      await this.#transition('plan', 'plan received with the request');
      throw await this.#escalate(`the plan names tools this worker does not have: ${missing.join(', ')}`, null, { missing });
    }
    await this.#transition('plan', `plan of ${planned.length} step(s) from the request: ${planned.map((s) => s.tool).join(', ')}`);
  }

  /**
   * Review: asks the policy set (and the autonomy levels) about every planned step; `deny`,
   * `escalate`, `suggest` and shadow mode end the mission here. For `require_approval` it opens an
   * approval request and waits for it durably; once granted it reviews again with fresh state and the
   * policy then in force, and consumes the grant only if the exact actions are still the ones
   * approved (otherwise a new approval is needed). Stays in stage `review` until execution may start.
   */
  async #review(mission: MissionDetail): Promise<Decision> {
    await this.#checkCancel([]);
    const planned = mission.steps.filter((s) => s.phase === 'plan');
    let round = await this.#reviewRound(mission, planned, 1);
    const summary = (r: ReviewRound): string => r.decision.reasons.map((reason) => `${reason.rule}: ${reason.message}`).join('; ');
    const shadow = mission.request.shadow || this.#rt.shadowProjects.includes(mission.project);
    if (shadow) {
      await this.#transition('review', `shadow mode, decision ${round.decision.effect}: ${summary(round)}`, { decision: round.decision });
      for (const step of planned) {
        await DBOS.runStep(() => this.#rt.store.updateStep(this.#id, step.stepId, { status: 'skipped', result: { shadow: true, wouldRun: round.decision.effect === 'allow' || round.decision.effect === 'require_approval', decision: round.decision.effect } }), { name: `shadow:${step.stepId}`, ...storeRetry(this.#rt) });
      }
      throw await this.#finishThrow('close', `shadow mode: would have ${round.decision.effect === 'allow' ? 'executed' : round.decision.effect === 'require_approval' ? 'asked for approval, then executed' : `stopped (${round.decision.effect})`} ${planned.map((s) => s.tool).join(', ')}; executed nothing`, 'shadowed');
    }
    for (let attempt = 1; ; attempt++) {
      switch (round.decision.effect) {
        case 'deny':
          await this.#transition('review', `denied: ${summary(round)}`, { decision: round.decision });
          throw await this.#finishThrow('close', `review denied the plan: ${summary(round)}`, 'denied');
        case 'escalate':
          await this.#transition('review', `escalated: ${summary(round)}`, { decision: round.decision });
          throw await this.#escalate(`review escalated the plan: ${summary(round)}`, null, { decision: round.decision });
        case 'allow':
        case 'require_approval':
          break;
      }
      if (round.suggest) {
        await this.#transition('review', `autonomy level suggest: ${summary(round)}`, { decision: round.decision });
        throw await this.#finishThrow('close', `suggested to people, not executed (autonomy level suggest): ${planned.map((s) => `${s.tool} ${JSON.stringify(s.args)}`).join('; ')}`, 'suggested');
      }
      if (round.decision.effect === 'allow') {
        if (attempt === 1) await this.#transition('review', `allowed: ${summary(round)}`, { decision: round.decision });
        else await this.#update({ decision: round.decision, waitingFor: null });
        if (round.notify) this.#rt.observer.notify?.(this.#id, `executing under autonomy level auto-notify: ${planned.map((s) => s.tool).join(', ')}`);
        return round.decision;
      }
      if (attempt > 3) throw await this.#escalate('the plan changed under review three times; a person must look', null, { decision: round.decision });
      if (attempt === 1) await this.#transition('review', `approval required: ${summary(round)}`, { decision: round.decision, waitingFor: 'approval' });
      else await this.#update({ decision: round.decision, waitingFor: 'approval' });
      const approved = await this.#awaitApproval(mission, round, attempt);
      if (this.#rt.approvals === undefined) return approved;
      // Just before execution: fresh state, the policy now in force, and the exact actions approved.
      const recheck = await this.#reviewRound(mission, planned, attempt + 1);
      if (recheck.decision.effect === 'require_approval') {
        const grant = await DBOS.runStep(() => this.#rt.approvals!.consume(approved.approvalId, recheck.binding, this.#rt.now()), { name: `approval:consume:${attempt}`, ...storeRetry(this.#rt) });
        await this.#audited(`approval:consume:${attempt}`, 'approval.consumed', { approvalId: approved.approvalId, ok: grant.ok, ...(grant.ok ? {} : { code: grant.code, reason: grant.reason }) });
        // A grant belongs to this mission alone; "already consumed" on a replay means this mission
        // consumed it before a crash lost the checkpoint.
        if (grant.ok || grant.code === 'APPROVAL_ALREADY_CONSUMED') {
          const decision = { ...recheck.decision, reasons: [...recheck.decision.reasons, ...approved.reasons.slice(-1)] };
          await this.#update({ decision, waitingFor: null });
          return decision;
        }
        // The grant no longer fits (the actions, the policy or the state changed): approve again.
        round = { ...recheck, decision: { ...recheck.decision, reasons: [...recheck.decision.reasons, { rule: 'review/recheck', effect: 'require_approval', message: `approval ${approved.approvalId} no longer applies: ${grant.reason}` }] } };
        continue;
      }
      round = recheck;
    }
  }

  async #reviewRound(mission: MissionDetail, steps: readonly MissionStep[], n: number): Promise<ReviewRound> {
    const round = await DBOS.runStep(async () => reviewRound({
      mission, steps, catalog: this.#rt.catalog, policy: this.#rt.policy(), autonomy: this.#rt.autonomy,
      defaultApproval: this.#rt.defaultApproval, now: this.#rt.now(), signal: this.#rt.signal,
    }), { name: `review:${n}`, ...storeRetry(this.#rt) });
    // Round 1 reviews the plan; 2..4 re-check it before execution; 101.. review what is left after a kill switch was released.
    const trigger = n === 1 ? 'plan' : n > 100 ? 'kill_switch_released' : 'recheck';
    await this.#audited(`review:${n}`, 'policy.decided', { round: n, trigger, decision: round.decision, suggest: round.suggest, notify: round.notify, actions: round.binding.actions });
    return round;
  }

  /**
   * Durable wait for the decision on this round's approval; survives restarts and upgrades that keep
   * the workflow version. With an approvals module, only a decision naming this round's approval
   * request counts; the grant is consumed later, against the exact actions.
   */
  async #awaitApproval(mission: MissionDetail, round: ReviewRound, attempt: number): Promise<Decision & { approvalId: string }> {
    const requirement = round.decision.approval;
    const expiresInMs = requirement?.expiresInMs ?? this.#rt.approvalTimeoutMs;
    const gate = this.#rt.approvals;
    const approvalId = gate === undefined || requirement === null
      ? ''
      : (await DBOS.runStep(() => gate.request({
          binding: round.binding, requester: mission.requester, requirement, reasons: round.decision.reasons, risk: mission.risk, now: this.#rt.now(),
        }), { name: `approval:request:${attempt}`, ...storeRetry(this.#rt) })).approvalId;
    if (approvalId !== '') await this.#audited(`approval:request:${attempt}`, 'approval.requested', { approvalId, requirement, requester: mission.requester });
    const deadline = (await DBOS.now()) + expiresInMs;
    for (;;) {
      const message = await DBOS.recv<ControlMessage>(CONTROL_TOPIC, { deadlineEpochMS: deadline });
      if (message === null) {
        await this.#update({ waitingFor: null });
        throw await this.#escalate(`no review decision within ${Math.round(expiresInMs / 1000)} s; the approval request expired`, null, { decision: round.decision, approvalId });
      }
      if (message.type === 'cancel') {
        await this.#update({ waitingFor: null });
        throw await this.#finishThrow('close', `cancelled by ${message.by} while waiting for approval`, 'cancelled', { by: message.by });
      }
      if (message.type !== 'review' || (gate !== undefined && message.approvalId !== approvalId)) continue;
      const reviewed: Decision = {
        effect: message.approved ? 'allow' : 'deny',
        reasons: [...round.decision.reasons, { rule: 'review/person', effect: message.approved ? 'allow' : 'deny', message: `${message.approved ? 'approved' : 'rejected'} by ${message.by}${message.comment === undefined ? '' : `: ${message.comment}`}` }],
      };
      await this.#update({ waitingFor: null, decision: { ...round.decision, ...reviewed } });
      if (!message.approved) throw await this.#finishThrow('close', `rejected by ${message.by}`, 'denied', { by: message.by, ...(message.comment === undefined ? {} : { comment: message.comment }) });
      return { ...reviewed, approvalId };
    }
  }

  async #execute(mission: MissionDetail, decision: Decision): Promise<Completed[]> {
    await this.#checkCancel([]);
    await this.#transition('execute', `executing under decision ${decision.effect}`);
    const completed: Completed[] = [];
    for (const step of mission.steps.filter((s) => s.phase === 'plan')) {
      const tool = this.#tool(step);
      let guarded: { targetKey: string; stateHash: string } | null = null;
      if (isWrite(tool.risk)) {
        await this.#checkCancel(completed);
        guarded = await this.#guard(mission, step, tool, completed);
      }
      const outcome = await this.#call(step, tool);
      if (outcome.status === 'succeeded') {
        completed.push({ step, tool, result: outcome.result });
        if (guarded !== null) {
          const { targetKey, stateHash } = guarded;
          await DBOS.runStep(() => this.#rt.guards.recordAction({ missionId: this.#id, stepId: step.stepId, tool: tool.name, targetKey, agent: mission.request.agent ?? null, stateHash, at: this.#rt.now() }), { name: `action:${step.stepId}`, ...storeRetry(this.#rt) });
        }
        continue;
      }
      const compensations = await this.#compensate(completed);
      const what = outcome.status === 'unknown' ? 'has an unknown outcome' : 'failed';
      throw await this.#escalate(`step ${step.stepId} (${step.tool}) ${what}: ${outcome.error.message}`, step.stepId, { error: outcome.error, compensations });
    }
    return completed;
  }

  /**
   * The guards before a write: parks the mission while a kill switch covers it (and re-reviews the rest
   * of the plan when it is released), waits out a rate limit once, and escalates on a frozen action or
   * a tripped circuit breaker. Returns the target key and state digest to record after the write.
   */
  async #guard(mission: MissionDetail, step: MissionStep, tool: AnyToolContract, completed: readonly Completed[]): Promise<{ targetKey: string; stateHash: string }> {
    let waitedForRate = false;
    let parked = false;
    for (let check = 1; ; check++) {
      const verdict = await DBOS.runStep(() => checkGuards({ guards: this.#rt.guards, settings: this.#rt.guardSettings, mission, step, tool, now: this.#rt.now(), signal: this.#rt.signal }), { name: `guard:${step.stepId}:${check}`, ...storeRetry(this.#rt) });
      switch (verdict.kind) {
        case 'ok':
          if (parked || waitedForRate) await this.#update({ waitingFor: null });
          return { targetKey: verdict.targetKey, stateHash: verdict.stateHash };
        case 'frozen': {
          const compensations = await this.#compensate(completed);
          throw await this.#escalate(`step ${step.stepId} (${tool.name}) is frozen: ${verdict.reason}`, step.stepId, { guard: verdict, compensations });
        }
        case 'rate_limit': {
          if (waitedForRate) {
            const compensations = await this.#compensate(completed);
            throw await this.#escalate(`step ${step.stepId} (${tool.name}) is over the rate limit of ${verdict.scope} even after waiting`, step.stepId, { guard: verdict, compensations });
          }
          waitedForRate = true;
          await this.#update({ waitingFor: 'rate_limit' });
          await DBOS.sleep(Math.max(0, verdict.until - (await DBOS.now())));
          break;
        }
        case 'kill_switch': {
          if (!parked) await this.#update({ waitingFor: 'kill_switch' });
          parked = true;
          const message = await DBOS.recv<ControlMessage>(CONTROL_TOPIC, { timeoutSeconds: this.#rt.parkRecheckMs / 1000 });
          if (message?.type === 'cancel') {
            const compensations = await this.#compensate(completed);
            throw await this.#finishThrow('close', `cancelled by ${message.by} while parked by a kill switch${compensations.length > 0 ? `; compensated ${compensations.length} step(s)` : ''}`, 'cancelled', { by: message.by });
          }
          const still = await DBOS.runStep(async () => (await this.#rt.guards.engagedKillSwitches(verdict.scopes)).length > 0, { name: `park:${step.stepId}:${check}`, ...storeRetry(this.#rt) });
          if (still) break;
          // Released: the rest of the plan is reviewed again before any write.
          const remaining = mission.steps.filter((s) => s.phase === 'plan' && !completed.some((c) => c.step.stepId === s.stepId));
          const round = await this.#reviewRound(mission, remaining, 100 + check);
          await this.#update({ waitingFor: null, decision: round.decision });
          if (round.decision.effect !== 'allow' || round.suggest) {
            const compensations = await this.#compensate(completed);
            throw await this.#escalate(`after the kill switch was released, review of the remaining steps says ${round.suggest ? 'suggest' : round.decision.effect}: ${round.decision.reasons.map((r) => r.message).join('; ')}`, step.stepId, { decision: round.decision, compensations });
          }
          break;
        }
      }
    }
  }

  /**
   * Verify: re-observes the system. First each executed write's own probe, then the mission's
   * verifications (read tools returning `ok` and `observed`, e.g. `prometheus.check`); each must pass
   * without a break for its window before its timeout. The first that does not compensates the
   * completed writes (saga) and escalates with every observation.
   */
  async #verify(mission: MissionDetail, completed: readonly Completed[]): Promise<void> {
    const probes = completed.filter((c) => c.tool.verification !== undefined);
    const checks = mission.steps.filter((s) => s.phase === 'verification');
    const what = [probes.length > 0 ? `${probes.length} step probe(s)` : '', checks.length > 0 ? `${checks.length} verification(s): ${checks.map((s) => s.tool).join(', ')}` : ''].filter((part) => part !== '');
    await this.#transition('verify', what.length === 0 ? 'no verification probes for the executed steps' : `re-observing: ${what.join('; ')}`);
    const observations: Array<{ stepId: string; ok: boolean; observed: string }> = [];
    for (const { step, tool, result } of probes) {
      const probe = tool.verification;
      if (probe === undefined) continue;
      const check = (signal: AbortSignal): Promise<VerificationCheck> => probe.check({ tool: tool.name, args: step.args, idempotencyKey: step.idempotencyKey }, result, signal);
      await this.#holds(step, tool, check, { windowMs: probe.windowMs ?? 0, intervalMs: probe.intervalMs ?? 1000, timeoutMs: probe.timeoutMs ?? 60_000 }, observations, completed);
    }
    const specs = mission.request.verify;
    for (const step of checks) {
      const tool = this.#tool(step);
      const spec = specs[step.index];
      const timing = { windowMs: spec?.windowMs ?? 0, intervalMs: spec?.intervalMs ?? 1000, timeoutMs: spec?.timeoutMs ?? 60_000 };
      let n = 0;
      const check = async (signal: AbortSignal): Promise<VerificationCheck> => {
        const output = tool.output.safeParse(await tool.execute(step.args, { idempotencyKey: step.idempotencyKey, missionId: this.#id, stepId: step.stepId, attempt: ++n, signal }));
        return readVerification(output.success ? output.data : undefined, tool.name);
      };
      await DBOS.runStep(() => this.#rt.store.updateStep(this.#id, step.stepId, { status: 'running', startedAt: this.#rt.now() }), { name: `verify:${step.stepId}:start`, ...storeRetry(this.#rt) });
      await this.#holds(step, tool, check, timing, observations, completed);
    }
  }

  /**
   * Runs `check` every `intervalMs` (each check a checkpointed step, so a recovery does not re-check
   * what was recorded) until it has passed without a break for `windowMs`, and records the outcome
   * (`verification.checked`; for a verification step also its status and result). When it has not
   * held within `timeoutMs`: compensates `completed` and escalates.
   */
  async #holds(
    step: MissionStep, tool: AnyToolContract, check: (signal: AbortSignal) => Promise<VerificationCheck>,
    timing: { windowMs: number; intervalMs: number; timeoutMs: number },
    observations: Array<{ stepId: string; ok: boolean; observed: string }>, completed: readonly Completed[],
  ): Promise<void> {
    const start = await DBOS.now();
    let passingSince: number | null = null;
    for (let n = 1; ; n++) {
      const observed = await DBOS.runStep(async () => {
        try {
          return await check(AbortSignal.any([this.#rt.signal, AbortSignal.timeout(tool.timeoutMs)]));
        } catch (error) {
          return { ok: false, observed: `the check failed: ${toStepError(error).message}` };
        }
      }, { name: `verify:${step.stepId}:${n}` });
      const now = await DBOS.now();
      passingSince = observed.ok ? (passingSince ?? now) : null;
      const held = passingSince !== null && now - passingSince >= timing.windowMs;
      if (!held && now - start < timing.timeoutMs) {
        await DBOS.sleep(timing.intervalMs);
        continue;
      }
      observations.push({ stepId: step.stepId, ...observed });
      await this.#audited(`verify:${step.stepId}`, 'verification.checked', { stepId: step.stepId, tool: tool.name, ok: held, observed: observed.observed, checks: n, windowMs: timing.windowMs });
      if (step.phase === 'verification') {
        const patch = held
          ? { status: 'succeeded' as const, attempts: n, result: { ok: true, observed: observed.observed, checks: n }, finishedAt: this.#rt.now() }
          : { status: 'failed' as const, attempts: n, result: { ok: false, observed: observed.observed, checks: n }, error: { code: 'VERIFICATION_FAILED', message: observed.observed, retryable: false, outcomeUnknown: false }, finishedAt: this.#rt.now() };
        await DBOS.runStep(() => this.#rt.store.updateStep(this.#id, step.stepId, patch), { name: `verify:${step.stepId}:end`, ...storeRetry(this.#rt) });
      }
      if (held) return;
      const compensations = await this.#compensate(completed);
      throw await this.#escalate(`verification ${step.phase === 'verification' ? step.stepId : `of step ${step.stepId}`} (${tool.name}) failed within ${timing.timeoutMs} ms: ${observed.observed}`, step.stepId, { observations, compensations });
    }
  }

  /** Saga: undoes completed writes in reverse order; returns what happened to each. */
  async #compensate(completed: readonly Completed[]): Promise<Array<{ stepId: string; tool: string | null; status: string; error?: StepError }>> {
    const report: Array<{ stepId: string; tool: string | null; status: string; error?: StepError }> = [];
    for (const { step, tool, result } of [...completed].reverse()) {
      if (!isWrite(tool.risk)) continue;
      if (tool.compensation === undefined) {
        report.push({ stepId: step.stepId, tool: null, status: 'not compensable: the tool declares no compensation' });
        continue;
      }
      const undoTool = this.#rt.catalog.get(tool.compensation.tool);
      const undoId = `${step.stepId}.undo`;
      const args = tool.compensation.args(step.args, result);
      const undo: MissionStep = await DBOS.runStep(async () => {
        await this.#rt.store.recordSteps(this.#id, [{
          stepId: undoId, phase: 'compensation', index: step.index, tool: undoTool.name, args, risk: undoTool.risk,
          idempotencyKey: stepIdempotencyKey(this.#id, step.stepId, 'compensate'),
        }]);
        const recorded = await this.#rt.store.getStep(this.#id, undoId);
        if (recorded === undefined) throw new InternalError(`Compensation step ${undoId} was not recorded.`);
        return recorded;
      }, { name: `record:${undoId}`, ...storeRetry(this.#rt) });
      const outcome = await this.#call(undo, undoTool);
      const status = outcome.status === 'succeeded' ? 'compensated' : 'compensation_failed';
      await DBOS.runStep(() => this.#rt.store.updateStep(this.#id, step.stepId, { status }), { name: `mark:${step.stepId}:${status}`, ...storeRetry(this.#rt) });
      report.push({ stepId: step.stepId, tool: undoTool.name, status, ...(outcome.status === 'succeeded' ? {} : { error: outcome.error }) });
    }
    return report;
  }

  /** Calls a step's tool with its retry policy; each attempt is its own checkpointed step. */
  async #call(step: MissionStep, tool: AnyToolContract): Promise<AttemptResult> {
    const retry = tool.retry ?? { ...DEFAULT_RETRY, maxAttempts: 1 };
    let delay = retry.intervalMs;
    for (let attempt = 1; ; attempt++) {
      await this.#rt.observer.afterStep?.(this.#id, step.stepId, 'before');
      // The duration is measured inside the step and checkpointed with its result (no extra checkpoints).
      const outcome = await DBOS.runStep(async () => {
        const started = performance.now();
        const result = await attemptToolCall({
          store: this.#rt.store, workers: this.#rt.workers, workerId: this.#rt.workerId, tool, missionId: this.#id,
          stepId: step.stepId, args: step.args, idempotencyKey: step.idempotencyKey, signal: this.#rt.signal, now: this.#rt.now, fenced: this.#rt.fenced,
          recordCall: (n) => this.#record('tool.called', { stepId: step.stepId, phase: step.phase, tool: tool.name, risk: tool.risk, args: step.args, idempotencyKey: step.idempotencyKey, attempt: n }),
        });
        return { ...result, seconds: (performance.now() - started) / 1000 };
      }, { name: `call:${step.stepId}:${attempt}`, ...storeRetry(this.#rt) });
      this.#rt.observer.stepFinished?.(this.#id, { stepId: step.stepId, tool: tool.name, status: outcome.status, seconds: outcome.seconds });
      // A context step is an evidence query: its entry names the source, the query and the digest of
      // what it returned, so an auditor can tell which evidence the plan stood on.
      const evidence = step.phase === 'context';
      await this.#audited(`result:${step.stepId}:${attempt}`, step.phase === 'compensation' ? 'compensation.ran' : evidence ? 'evidence.queried' : 'tool.result', {
        stepId: step.stepId, tool: tool.name, status: outcome.status, seconds: outcome.seconds,
        ...(evidence ? { source: tool.name, query: step.args } : {}),
        ...(outcome.status === 'succeeded' ? { result: outcome.result, recovered: outcome.recovered, ...(evidence ? { resultSha256: sha256Hex(canonicalJson(outcome.result ?? null)) } : {}) } : { error: outcome.error }),
      });
      await this.#rt.observer.afterStep?.(this.#id, step.stepId, 'after');
      if (outcome.status !== 'failed' || !outcome.error.retryable || attempt >= retry.maxAttempts) return outcome;
      await DBOS.sleep(delay);
      delay = delay * retry.backoffRate;
    }
  }

  #tool(step: MissionStep): AnyToolContract {
    return this.#rt.catalog.get(step.tool);
  }

  /** Non-blocking check for a cancel request; on one, compensates and ends the mission `cancelled`. */
  async #checkCancel(completed: readonly Completed[]): Promise<void> {
    const message = await DBOS.recv<ControlMessage>(CONTROL_TOPIC, { timeoutSeconds: 0 });
    if (message?.type !== 'cancel') return;
    const compensations = await this.#compensate(completed);
    throw await this.#finishThrow('close', `cancelled by ${message.by}${compensations.length > 0 ? `; compensated ${compensations.length} step(s)` : ''}`, 'cancelled', { by: message.by });
  }

  /**
   * Appends one audit entry for this mission. When the audit log cannot store it, the mission shows
   * `waitingFor: audit` and the step retries (fail closed: the caller has not acted yet).
   */
  async #record(kind: AuditEntryKind, data: Record<string, unknown>, actor = 'interlock-engine'): Promise<void> {
    await this.#recordAll([{ kind, data, actor }]);
  }

  /**
   * Appends entries for this mission in one batch, as {@link #record} does. The first entry stored
   * after the audit log refused this run's entries carries `auditOutage: { since, error }`: the
   * record of where the mission failed closed and waited.
   */
  async #recordAll(items: ReadonlyArray<{ kind: AuditEntryKind; data: Record<string, unknown>; actor?: string }>): Promise<void> {
    const outage = this.#auditOutage;
    const at = this.#rt.now();
    try {
      await this.#rt.audit.append(items.map((item, i) => ({
        schemaVersion: 1, kind: item.kind, actor: item.actor ?? 'interlock-engine', missionId: this.#id, at,
        data: i === 0 && outage !== undefined ? { ...item.data, auditOutage: outage } : item.data,
      })));
    } catch (error) {
      await this.#rt.store.updateMission(this.#id, { waitingFor: 'audit' }, this.#rt.now()).catch(() => undefined);
      this.#auditOutage ??= { since: at, error: error instanceof Error ? error.message : String(error) };
      throw new AuditUnavailableError(error);
    }
    if (outage !== undefined) {
      this.#auditOutage = undefined;
      await this.#rt.store.updateMission(this.#id, { waitingFor: null }, this.#rt.now());
    }
  }

  async #audited(name: string, kind: AuditEntryKind, data: Record<string, unknown>): Promise<void> {
    await DBOS.runStep(() => this.#record(kind, data), { name: `audit:${name}`, ...storeRetry(this.#rt) });
  }

  /** Moves the mission to stage `to`; `closing` is the `mission.closed` / `mission.escalated` entry recorded with the last transition. */
  async #transition(to: Stage, reason: string, patch?: MissionPatch, closing?: { kind: AuditEntryKind; data: Record<string, unknown> }): Promise<void> {
    const seq = ++this.#seq;
    await DBOS.runStep(async () => {
      const transition = { seq, to, reason, ...(patch?.decision === undefined ? {} : { decision: patch.decision }), ...(patch?.outcome === undefined ? {} : { outcome: patch.outcome }) };
      await this.#recordAll([{ kind: 'stage.transition', data: transition }, ...(closing === undefined ? [] : [closing])]);
      await this.#rt.store.recordTransition(this.#id, seq, to, reason, this.#rt.now(), patch);
    }, { name: `stage:${seq}:${to}`, ...storeRetry(this.#rt) });
    this.#rt.observer.stageTransition?.(this.#id, to);
  }

  async #update(patch: MissionPatch): Promise<void> {
    await DBOS.runStep(() => this.#rt.store.updateMission(this.#id, patch, this.#rt.now()), { name: 'update', ...storeRetry(this.#rt) });
  }

  /**
   * Ends the mission: the last transition, recorded with `mission.escalated` (reason, step, evidence)
   * or `mission.closed` (outcome, reason, and who cancelled or rejected it, with their comment).
   */
  async #finish(stage: 'close' | 'escalate', reason: string, outcome: Outcome, escalation?: Escalation, who?: { by: string; comment?: string }): Promise<MissionResult> {
    const closing = stage === 'escalate'
      ? { kind: 'mission.escalated' as const, data: { outcome, reason, stepId: escalation?.stepId ?? null, evidence: escalation?.evidence ?? {} } }
      : { kind: 'mission.closed' as const, data: { outcome, reason, ...who } };
    // The ticket of its incident records how it ends before the mission shows its outcome, so whoever
    // sees the outcome finds the ticket (idempotent per mission: a replay changes nothing).
    const sink = this.#rt.missionEnd;
    if (sink !== undefined) {
      const seq = this.#seq + 1;
      await DBOS.runStep(async () => {
        const detail = await this.#rt.store.getMissionDetail(this.#id);
        if (detail === undefined) throw new InternalError(`Mission ${this.#id} has no record to put on a ticket.`);
        const at = this.#rt.now();
        const ended: MissionDetail = {
          ...detail, stage, outcome, waitingFor: null, escalation: escalation ?? detail.escalation, finishedAt: at, updatedAt: at,
          history: [...detail.history, { seq, from: detail.stage, to: stage, reason, at }],
        };
        return sink.missionEnded(ended);
      }, { name: 'ticket', ...storeRetry(this.#rt) });
    }
    await this.#transition(stage, reason, { outcome, waitingFor: null, ...(escalation === undefined ? {} : { escalation }) }, closing);
    this.#rt.observer.missionFinished?.(this.#id, outcome);
    return { outcome, stage };
  }

  async #finishThrow(stage: 'close' | 'escalate', reason: string, outcome: Outcome, who?: { by: string; comment?: string }): Promise<Stop> {
    return new Stop(await this.#finish(stage, reason, outcome, undefined, who));
  }

  async #escalate(reason: string, stepId: string | null, evidence: Record<string, unknown>): Promise<Stop> {
    return new Stop(await this.#finish('escalate', reason, 'escalated', { reason, stepId, evidence }));
  }
}

/** The mission workflow body: runs the governed loop for `missionId` to its end. */
export async function missionWorkflow(missionId: string): Promise<MissionResult> {
  return new MissionRun(currentRuntime(), missionId).run();
}

/**
 * A verification tool's result as a check: `ok` must be a boolean and `observed` a string; any other
 * shape fails the check (fail closed: an answer that does not parse is not a pass).
 */
function readVerification(result: unknown, tool: string): VerificationCheck {
  const value = result as { ok?: unknown; observed?: unknown } | undefined;
  if (typeof value?.ok === 'boolean' && typeof value.observed === 'string') return { ok: value.ok, observed: value.observed };
  return { ok: false, observed: `${tool} did not answer with { ok: boolean, observed: string }` };
}

/** Hex SHA-256 of a string's UTF-8. */
function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
