import { createHash } from 'node:crypto';
import { applyAutonomy, resolveAutonomy, type AutonomyLevel, type AutonomyRule } from '../core/guards/autonomy.js';
import type { MissionDetail, MissionStep } from '../core/missions/mission.js';
import type { ApprovalRequirement, PolicyDecision, PolicyEvaluator, PolicyTarget } from '../core/policy/policy.js';
import type { ApprovalBinding } from '../core/ports.js';
import { combineDecisions } from '../core/review/decision.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import type { AnyToolContract } from '../core/tools/tool.js';

/** Autonomy settings: rules and the level when none matches. */
export interface AutonomySettings {
  readonly rules: readonly AutonomyRule[];
  readonly default: AutonomyLevel;
}

/** What one review round decided for a set of plan steps, checkpointed as a DBOS step result. */
export interface ReviewRound {
  /**
   * Policy and autonomy combined over every step: the most restrictive wins. For `require_approval`,
   * `approval` is the strictest requirement among the steps (largest quorum, shortest expiry, the
   * groups every step accepts), or the default when only an autonomy level asked for approval.
   */
  readonly decision: PolicyDecision;
  /** True when some step's autonomy level is `suggest`: the plan is handed to people, never executed. */
  readonly suggest: boolean;
  /** True when some step's autonomy level is `auto-notify`. */
  readonly notify: boolean;
  /** The exact actions reviewed, as an approval binds them. */
  readonly binding: ApprovalBinding;
}

/** A step's target with the mission's labels filling what the tool's `target()` leaves open. */
export function resolveTarget(tool: AnyToolContract, args: Record<string, unknown>, labels: Readonly<Record<string, string>>): PolicyTarget {
  const own = tool.target?.(args) ?? {};
  return {
    service: own.service ?? labels.service ?? null,
    environment: own.environment ?? labels.environment ?? null,
    tier: own.tier ?? labels.tier ?? null,
    labels: { ...labels, ...own.labels },
  };
}

/** Canonical key of a target for guards and blast radius: `<service>@<environment>` (`-` for unknown). */
export function targetKey(target: PolicyTarget): string {
  return `${target.service ?? '-'}@${target.environment ?? '-'}`;
}

/** SHA-256 (hex) of an observed state, for comparing states across actions; `''` for no observation. */
export function stateHash(state: Readonly<Record<string, unknown>> | null): string {
  if (state === null) return '';
  return createHash('sha256').update(JSON.stringify(state, Object.keys(state).sort())).digest('hex');
}

/** Observes a step's target through its tool, time-boxed; a failure is reported in the state. */
export async function observeTarget(tool: AnyToolContract, args: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown> | null> {
  if (tool.observe === undefined) return null;
  try {
    return await tool.observe(args, AbortSignal.any([signal, AbortSignal.timeout(tool.timeoutMs)]));
  } catch (error) {
    return { observeError: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Reviews `steps` of `mission` now: observes each target, asks the policy set for a decision per
 * step, applies the autonomy level, and combines them. Pure but for the observations.
 */
export async function reviewRound(input: {
  readonly mission: MissionDetail;
  readonly steps: readonly MissionStep[];
  readonly catalog: ToolCatalog;
  readonly policy: PolicyEvaluator;
  readonly autonomy: AutonomySettings;
  readonly defaultApproval: ApprovalRequirement;
  readonly now: number;
  readonly signal: AbortSignal;
}): Promise<ReviewRound> {
  const { mission, policy } = input;
  const planned = input.steps.map((step) => {
    const tool = input.catalog.get(step.tool);
    return { step, tool, target: resolveTarget(tool, step.args, mission.labels) };
  });
  const blastRadius = new Set(planned.map((p) => targetKey(p.target))).size;
  const decisions: PolicyDecision[] = [];
  let suggest = false;
  let notify = false;
  for (const { step, tool, target } of planned) {
    const state = (await observeTarget(tool, step.args, input.signal)) ?? {};
    const decided = policy.decide({
      tool: { name: tool.name, risk: tool.risk, idempotent: tool.idempotent, permission: tool.permission },
      args: step.args,
      risk: tool.risk,
      target,
      mission: {
        id: mission.id, project: mission.project, requester: mission.requester, agent: mission.request.agent ?? null,
        confidence: mission.request.confidence ?? null, hypothesis: mission.request.hypothesis ?? null, labels: mission.labels, blastRadius,
      },
      time: input.now,
      state,
    });
    const autonomy = resolveAutonomy(input.autonomy.rules, input.autonomy.default, { tool: tool.name, risk: tool.risk, tier: target.tier });
    suggest ||= autonomy.level === 'suggest';
    notify ||= autonomy.level === 'auto-notify';
    // A requester asking for approval can only make the decision stricter (like autonomy `approve`).
    const adjusted = applyAutonomy(applyAutonomy(decided, autonomy), mission.request.requireApproval === true ? { level: 'approve', rule: 'request/require-approval' } : autonomy);
    decisions.push(adjusted.effect === 'require_approval' && adjusted.approval === null ? { ...adjusted, approval: input.defaultApproval } : adjusted);
  }
  let combined = combineDecisions(decisions, { effect: 'allow', reasons: [{ rule: 'default/empty-plan', effect: 'allow', message: 'nothing to execute' }] });
  let approval: ApprovalRequirement | null = null;
  if (combined.effect === 'require_approval') {
    const merged = strictest(decisions.filter((d) => d.effect === 'require_approval' && d.approval !== null).map((d) => d.approval!), input.defaultApproval);
    if (merged.ok) approval = merged.approval;
    else combined = { effect: 'escalate', reasons: [...combined.reasons, { rule: 'review/approval-groups', effect: 'escalate', message: merged.message }] };
  }
  return {
    decision: { ...combined, policyDigest: policy.digest, approval },
    suggest,
    notify,
    binding: {
      missionId: mission.id,
      project: mission.project,
      actions: planned.map(({ step, target }) => ({ stepId: step.stepId, tool: step.tool, args: step.args, target })),
      policyDigest: policy.digest,
    },
  };
}

/**
 * The strictest of the steps' approval requirements, as policy combines the rules of one step: the
 * largest quorum, the shortest expiry, and the groups every step accepts (the intersection of the
 * non-empty group lists; no groups means any approver). Steps that accept no group in common cannot
 * be approved by anyone at once: that is reported, and the plan escalates.
 */
function strictest(requirements: readonly ApprovalRequirement[], fallback: ApprovalRequirement): { ok: true; approval: ApprovalRequirement } | { ok: false; message: string } {
  if (requirements.length === 0) return { ok: true, approval: fallback };
  let groups: string[] | null = null;
  for (const requirement of requirements) {
    if (requirement.groups.length > 0) groups = groups === null ? [...requirement.groups] : groups.filter((g) => requirement.groups.includes(g));
  }
  if (groups !== null && groups.length === 0) {
    return { ok: false, message: `the plan's steps require approval from groups with none in common (${requirements.map((r) => r.groups.join(' or ') || 'any').join('; ')}); split the plan or ask a person` };
  }
  return {
    ok: true,
    approval: { quorum: Math.max(...requirements.map((r) => r.quorum)), groups: [...(groups ?? [])].sort(), expiresInMs: Math.min(...requirements.map((r) => r.expiresInMs)) },
  };
}
