/**
 * The governed loop as a state machine (DESIGN.md, "The governed loop"): a mission moves through
 * `intake → context → plan → review → execute → verify` and ends in `close` or `escalate`.
 * Planning and executing are different stages; the only way into `execute` is through `review`.
 */

/** The stages of a mission, in loop order; `close` and `escalate` are terminal. */
export const STAGES = ['intake', 'context', 'plan', 'review', 'execute', 'verify', 'close', 'escalate'] as const;

/** One stage of the governed loop. */
export type Stage = (typeof STAGES)[number];

/**
 * How a finished mission ended. `resolved` is the only success; `suggested` (autonomy level
 * `suggest`: the plan was reviewed and handed to people, nothing executed) and `shadowed` (shadow
 * mode: it recorded what it would have executed, nothing executed) end without acting.
 */
export const OUTCOMES = ['resolved', 'escalated', 'denied', 'cancelled', 'suggested', 'shadowed'] as const;

/** How a finished mission ended: verified fix, handed to people, refused, cancelled, suggested or shadowed. */
export type Outcome = (typeof OUTCOMES)[number];

const TRANSITIONS: Readonly<Record<Stage, readonly Stage[]>> = {
  intake: ['context', 'close', 'escalate'],
  context: ['plan', 'close', 'escalate'],
  plan: ['review', 'close', 'escalate'],
  review: ['execute', 'close', 'escalate'],
  execute: ['verify', 'close', 'escalate'],
  verify: ['close', 'escalate'],
  close: [],
  escalate: [],
};

/** True when a mission may move from stage `from` to stage `to`. */
export function canTransition(from: Stage, to: Stage): boolean {
  return TRANSITIONS[from].includes(to);
}

/** True for `close` and `escalate`, the stages a mission ends in. */
export function isTerminalStage(stage: Stage): boolean {
  return TRANSITIONS[stage].length === 0;
}

/** One persisted stage transition: when, from where, to where, and why. */
export interface StageTransition {
  /** 1-based order of the transition within its mission. */
  readonly seq: number;
  readonly from: Stage | null;
  readonly to: Stage;
  readonly reason: string;
  /** Milliseconds since the Unix epoch. */
  readonly at: number;
}
