// What the closed-loop follower (closed-loop.ts) reports for one fault; its own module so the CLI's
// types can name it without importing the follower.

/** The times of one fault's way through the loop, ms since the epoch (null: did not happen). */
export interface FaultTimeline {
  readonly fault: string;
  readonly service: string;
  readonly injectedAt: number;
  readonly incidentId: string | null;
  /** When the first signal of the incident was received (the alert reached Interlock). */
  readonly detectedAt: number | null;
  readonly diagnosisMissionId: string | null;
  /** When `diagnosis.run` finished. */
  readonly diagnosedAt: number | null;
  readonly hypothesis: { readonly kind: string; readonly service: string | null; readonly confidence: number } | null;
  /** `name@version` of the runbook, or null when none ran. */
  readonly runbook: string | null;
  readonly remediationMissionId: string | null;
  /** The review decision's effect and the rules behind it, e.g. `require_approval (rollbacks/critical-rollback)`. */
  readonly decision: string | null;
  /** When review let the plan execute (after the approval, when one was needed). */
  readonly decidedAt: number | null;
  /** `not required`, `approved by <name>`, `rejected by <name>`, or `-`. */
  readonly approval: string;
  /** The plan's tool calls in a line, e.g. `releases.rollback {"service":"checkout"}`. */
  readonly action: string | null;
  /** When the last plan step finished. */
  readonly actedAt: number | null;
  /** When the mission closed after verification passed; null unless resolved. */
  readonly verifiedAt: number | null;
  /** `resolved`, `escalated`, `denied`, ... of the remediation mission, or of the diagnosis mission when no remediation started. */
  readonly outcome: string;
  /** Why it escalated, when it did. */
  readonly reason: string | null;
  /** Injection to verified recovery, ms; null when not resolved. */
  readonly mttrMs: number | null;
}
