/**
 * What the built-in diagnosis engine answers with: ranked hypotheses, each a root-cause candidate
 * with a calibrated confidence in 0..1 and its evidence kept apart as facts (observed, citing
 * evidence IDs), assumptions (what the inference relies on) and missing evidence (what would
 * confirm or refute it and was not available), the read-only checks that would settle it, and a
 * remediation hint for the runbook that comes next. Nothing here executes anything.
 */

/**
 * The failure patterns the engine recognises, and `unknown` ("no known pattern explains the
 * evidence", or no evidence to tell).
 */
export const HYPOTHESIS_KINDS = ['memory_leak', 'bad_deploy', 'pool_exhaustion', 'canary_regression', 'load_surge', 'resource_saturation', 'unknown'] as const;
export type HypothesisKind = (typeof HYPOTHESIS_KINDS)[number];

/** The remediation a runbook would apply for a pattern; a hint, never executed here. */
export const REMEDIATION_ACTIONS = ['restart', 'rollback', 'shift_canary_traffic_back', 'raise_pool_size', 'scale_out', 'escalate'] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

/** Something observed in the evidence. */
export interface Fact {
  /** One sentence with the numbers, e.g. `heap of checkout grew 48 % over the window (slope 97 MB/h, R² 0.93)`. */
  readonly statement: string;
  /** IDs of the evidence items it was read from (each an `evidence.id` of the bundle). */
  readonly evidence: readonly string[];
  /** The figures behind the statement, by name (units in the name: `slopeBytesPerHour`, `pValue`, `r2`). Finite numbers only. */
  readonly values: Readonly<Record<string, number>>;
}

/** A read-only check that would confirm or refute a hypothesis. */
export interface Check {
  readonly description: string;
  /** A query to run, when one can be given (PromQL, SQL, a Git command); read-only. */
  readonly query?: string;
}

/** The pattern's remediation, for the runbook to plan with its own gates; never executed by the engine. */
export interface Remediation {
  readonly action: RemediationAction;
  /** The service to act on, or null (escalate to a person). */
  readonly target: string | null;
  /** One or two sentences: what it would do, and its limits. */
  readonly note: string;
  /** Figures a runbook may use, e.g. `currentPoolMax`, `forecastPeak`, or the change to roll back (`changeRef`). */
  readonly parameters: Readonly<Record<string, number | string>>;
}

/** One root-cause candidate. */
export interface Hypothesis {
  /** Stable: `<kind>:<service>`, or `unknown`. */
  readonly id: string;
  readonly kind: HypothesisKind;
  /** The suspected service, or null (`unknown`). */
  readonly service: string | null;
  /** One line. */
  readonly summary: string;
  /** Calibrated probability that this hypothesis is the cause, 0..1 (see docs/diagnosis.md, "Diagnosis engine"). */
  readonly confidence: number;
  /** The signature's raw strength 0..1 before calibration: a documented weighted sum of its components. */
  readonly strength: number;
  /** The components of `strength`, each 0..1, by name. */
  readonly components: Readonly<Record<string, number>>;
  readonly facts: readonly Fact[];
  readonly assumptions: readonly string[];
  readonly missingEvidence: readonly string[];
  readonly checks: readonly Check[];
  readonly remediation: Remediation;
}
