import type { Decision } from '../review/decision.js';
import type { RiskClass } from '../tools/tool.js';

/**
 * What an action touches, as a tool's contract extracts it from the call's arguments (falling back to
 * the mission's labels): the service, its environment and tier, and free-form labels.
 */
export interface PolicyTarget {
  readonly service: string | null;
  readonly environment: string | null;
  /** Service tier, e.g. `critical`, `standard`, `non-critical`. */
  readonly tier: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Everything a policy condition may read about one proposed action (the CEL variables of the typed
 * environment, docs/policy.md): the tool and its arguments, the risk class, the target, the mission,
 * the time of the decision and the observed state of the target.
 */
export interface PolicyInput {
  readonly tool: { readonly name: string; readonly risk: RiskClass; readonly idempotent: boolean; readonly permission: string };
  readonly args: Readonly<Record<string, unknown>>;
  readonly risk: RiskClass;
  readonly target: PolicyTarget;
  readonly mission: {
    readonly id: string;
    readonly project: string;
    readonly requester: string;
    /** The agent that proposed the plan, if an agent did. */
    readonly agent: string | null;
    /** Confidence of the top hypothesis, 0..1, when a diagnosis produced one. */
    readonly confidence: number | null;
    readonly hypothesis: string | null;
    readonly labels: Readonly<Record<string, string>>;
    /** Number of distinct targets the mission's plan touches (blast radius). */
    readonly blastRadius: number;
  };
  /** When the decision is made, ms since the Unix epoch (a CEL `timestamp`). */
  readonly time: number;
  /** Observed state of the target, as the tool's probe or the evidence reported it (a CEL `map`). */
  readonly state: Readonly<Record<string, unknown>>;
}

/** What an approval must gather: how many approvers, from which groups, within how long. */
export interface ApprovalRequirement {
  /** Approvals needed (M of an M-of-N quorum). */
  readonly quorum: number;
  /** Approver groups whose members may approve; empty means any principal with the approver role. */
  readonly groups: readonly string[];
  /** How long the request stays open, ms. */
  readonly expiresInMs: number;
}

/**
 * A decision of the policy set for one action: the effect, every rule that produced it, the digest of
 * the policy set that decided, and, for `require_approval`, what the approval must gather (the
 * strictest requirement of the matching rules).
 */
export interface PolicyDecision extends Decision {
  /** SHA-256 (hex) of the policy set in force. */
  readonly policyDigest: string;
  readonly approval: ApprovalRequirement | null;
}

/** A loaded, validated policy set. Pure: no I/O, deterministic for the same input. */
export interface PolicyEvaluator {
  readonly digest: string;
  decide(input: PolicyInput): PolicyDecision;
}
