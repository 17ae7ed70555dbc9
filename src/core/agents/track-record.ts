/**
 * Track record of agents and runbooks (docs/agents.md, "Track record"): from the facts of each
 * mission proposed in a time window, what each agent and each runbook proposed, how people judged it
 * (approvals, denials, corrections), how it ended (verified successes, failed verifications,
 * escalations, shadowed), and a suggested next rung of the trust ladder (DESIGN.md, "Autonomy level":
 * suggest → approve → auto-notify → auto) with the evidence. The suggestion is advice for the agent's
 * owner; nothing here changes an agent's autonomy. Pure: no I/O.
 */
import { AUTONOMY_LEVELS, type AutonomyLevel } from '../guards/autonomy.js';
import type { Outcome } from '../missions/stages.js';

/**
 * The facts of one mission that the track record counts, as the store reads them
 * (`PgTrackRecordStore.facts`).
 */
export interface MissionFacts {
  readonly missionId: string;
  readonly project: string;
  /**
   * The agent that proposed the mission: the request's `agent` (set by Interlock from an agent
   * caller, and by the hand-off for a resolution agent's mission), else the requester when it is a
   * principal of kind `agent`; null for a mission no agent proposed (a person's, a runbook's).
   */
  readonly agent: string | null;
  /** The runbook whose plan it runs (its labels `runbook`, or the `runbooks.dispatch` step that started it); null for none. */
  readonly runbook: string | null;
  /** That runbook's version, when known. */
  readonly runbookVersion: number | null;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** Null while the mission runs. */
  readonly outcome: Outcome | null;
  /** Approval requests made for it (one per review round that needed one). */
  readonly approvalRequests: number;
  /** Of those, granted by their quorum (status `granted` or `consumed`). */
  readonly approvalsGranted: number;
  /** Of those, denied by an eligible approver. */
  readonly approvalsDenied: number;
  /**
   * True when it ended `cancelled` and whoever cancelled it (the `mission.closed` audit entry's
   * `by`) is not a principal of kind `agent` or `service`: a person stopped it.
   */
  readonly cancelledByPerson: boolean;
  /** Its verification steps (phase `verification`). */
  readonly verificationSteps: number;
  /** Of those, the ones that passed (status `succeeded`). */
  readonly verificationsPassed: number;
  /**
   * True when a verification did not hold: a verification step failed with `VERIFICATION_FAILED`,
   * or the mission escalated because a check (a tool's own probe included) failed.
   */
  readonly verificationFailed: boolean;
}

/** The figures of an agent or a runbook over a window; every count is of missions unless it says otherwise. */
export interface TrackRecordFigures {
  /** Missions it proposed (created in the window), whatever became of them. */
  readonly proposals: number;
  /** Approval requests of its missions that were granted (granted, or granted and used). */
  readonly approved: number;
  /** Approval requests of its missions that an approver denied. */
  readonly denied: number;
  /**
   * Missions people corrected: one of its approval requests was denied, a person cancelled it, or it
   * needed more than one approval request (the re-check before execution found the approved plan no
   * longer applied, so people approved again: [GOV-RECHECK]). A mission counts once.
   */
  readonly corrections: number;
  /** Missions that ended `resolved` with at least one verification step, every one of them passed. */
  readonly verifiedSuccesses: number;
  /** Missions that escalated because a verification did not hold (see {@link MissionFacts.verificationFailed}). */
  readonly failedVerifications: number;
  /** Missions that ended `escalated`, for any reason (failed verifications included). */
  readonly escalations: number;
  /** Missions that ended `shadowed` or `suggested`: reviewed and recorded, nothing executed. */
  readonly shadowed: number;
  /**
   * Missions whose end judges the proposal: the verified successes and the missions that ended
   * `escalated`, `denied` or cancelled by a person. Missions still running, shadowed or suggested,
   * resolved without a verification step, or cancelled by a machine count neither way.
   */
  readonly judged: number;
  /** `verifiedSuccesses / judged`, 0..1; null when nothing was judged. */
  readonly successRate: number | null;
}

/**
 * A suggested rung of the trust ladder and why. `raise` and `lower` move one rung from `from`;
 * `keep` stays; `supports` (when the current level is unknown, as for a runbook, whose level policy
 * sets per tool and tier) names the highest rung the evidence supports. Never applied automatically.
 */
export interface AutonomySuggestion {
  readonly action: 'raise' | 'lower' | 'keep' | 'supports';
  /** The current level (an agent's `autonomyCeiling`), or null when unknown. */
  readonly from: AutonomyLevel | null;
  readonly to: AutonomyLevel;
  /** The suggestion in words with its evidence, e.g. `raise to auto-notify: 20 verified successes, 0 corrections, 0 failed verifications in the last 30 days`. */
  readonly text: string;
}

/** An agent's track record. */
export interface AgentTrackRecord extends TrackRecordFigures {
  readonly agent: string;
  /** The projects of its missions, sorted. */
  readonly projects: readonly string[];
  /** Its `autonomyCeiling`, or null when no loaded agent has this name (a removed agent, an external MCP client). */
  readonly autonomyCeiling: AutonomyLevel | null;
  readonly suggestion: AutonomySuggestion;
}

/** A runbook's track record (every version together). */
export interface RunbookTrackRecord extends TrackRecordFigures {
  readonly runbook: string;
  /** The versions its missions ran, ascending. */
  readonly versions: readonly number[];
  readonly projects: readonly string[];
  readonly suggestion: AutonomySuggestion;
}

/** The track records of a window. */
export interface TrackRecord {
  /** Start of the window (missions created at or after it), ms since the epoch. */
  readonly since: number;
  /** End of the window (when it was computed), ms since the epoch. */
  readonly until: number;
  /** By agent name. */
  readonly agents: readonly AgentTrackRecord[];
  /** By runbook name. */
  readonly runbooks: readonly RunbookTrackRecord[];
}

/**
 * The thresholds of the suggestion rule. To climb to a rung the window must show zero corrections
 * and zero failed verifications, plus: `approve` (from suggest) at least `approve.shadowed` shadowed
 * proposals; `auto-notify` at least `autoNotify.verifiedSuccesses` verified successes and a success
 * rate of at least `autoNotify.successRate`; `auto` likewise with `auto.*`. Any of `lower.*` reached
 * (failed verifications, corrections, or a success rate below `lower.successRateBelow` over at least
 * `lower.minJudged` judged missions) suggests one rung down, and beats any raise.
 */
export interface SuggestionThresholds {
  readonly approve: { readonly shadowed: number };
  readonly autoNotify: { readonly verifiedSuccesses: number; readonly successRate: number };
  readonly auto: { readonly verifiedSuccesses: number; readonly successRate: number };
  readonly lower: { readonly failedVerifications: number; readonly corrections: number; readonly successRateBelow: number; readonly minJudged: number };
}

/** The default {@link SuggestionThresholds}. */
export const DEFAULT_SUGGESTION_THRESHOLDS: SuggestionThresholds = {
  approve: { shadowed: 10 },
  autoNotify: { verifiedSuccesses: 20, successRate: 0.95 },
  auto: { verifiedSuccesses: 50, successRate: 0.98 },
  lower: { failedVerifications: 2, corrections: 3, successRateBelow: 0.8, minJudged: 5 },
};

/** The default window of a track record: 30 days, ms. */
export const DEFAULT_TRACK_RECORD_WINDOW_MS = 30 * 86_400_000;

interface Tally {
  proposals: number; approved: number; denied: number; corrections: number; verifiedSuccesses: number;
  failedVerifications: number; escalations: number; shadowed: number; judged: number;
  projects: Set<string>; versions: Set<number>;
}

function emptyTally(): Tally {
  return { proposals: 0, approved: 0, denied: 0, corrections: 0, verifiedSuccesses: 0, failedVerifications: 0, escalations: 0, shadowed: 0, judged: 0, projects: new Set(), versions: new Set() };
}

/** True when people corrected the mission (see {@link TrackRecordFigures.corrections}). */
export function isCorrected(facts: MissionFacts): boolean {
  return facts.approvalsDenied > 0 || facts.cancelledByPerson || facts.approvalRequests > 1;
}

/** True when the mission ended resolved with every one of its (at least one) verification steps passed. */
export function isVerifiedSuccess(facts: MissionFacts): boolean {
  return facts.outcome === 'resolved' && facts.verificationSteps > 0 && facts.verificationsPassed === facts.verificationSteps && !facts.verificationFailed;
}

function add(tally: Tally, facts: MissionFacts): void {
  tally.proposals += 1;
  tally.approved += facts.approvalsGranted;
  tally.denied += facts.approvalsDenied;
  if (isCorrected(facts)) tally.corrections += 1;
  const verified = isVerifiedSuccess(facts);
  if (verified) tally.verifiedSuccesses += 1;
  if (facts.outcome === 'escalated') {
    tally.escalations += 1;
    if (facts.verificationFailed) tally.failedVerifications += 1;
  }
  if (facts.outcome === 'shadowed' || facts.outcome === 'suggested') tally.shadowed += 1;
  if (verified || facts.outcome === 'escalated' || facts.outcome === 'denied' || (facts.outcome === 'cancelled' && facts.cancelledByPerson)) tally.judged += 1;
  tally.projects.add(facts.project);
  if (facts.runbookVersion !== null) tally.versions.add(facts.runbookVersion);
}

function figures(tally: Tally): TrackRecordFigures {
  return {
    proposals: tally.proposals, approved: tally.approved, denied: tally.denied, corrections: tally.corrections,
    verifiedSuccesses: tally.verifiedSuccesses, failedVerifications: tally.failedVerifications, escalations: tally.escalations, shadowed: tally.shadowed,
    judged: tally.judged, successRate: tally.judged === 0 ? null : tally.verifiedSuccesses / tally.judged,
  };
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** `the last 30 days`, `the last 12 hours`: the window in words. */
function windowText(windowMs: number): string {
  const days = Math.floor(windowMs / 86_400_000);
  if (days >= 1) return `the last ${plural(days, 'day')}`;
  return `the last ${plural(Math.max(1, Math.round(windowMs / 3_600_000)), 'hour')}`;
}

function percent(rate: number | null): string {
  return rate === null ? 'no judged missions' : `${(rate * 100).toFixed(0)}% success`;
}

/** Whether the figures earn `level` (see {@link SuggestionThresholds}); `suggest` is always earned. */
function earns(level: AutonomyLevel, f: TrackRecordFigures, t: SuggestionThresholds): boolean {
  const clean = f.corrections === 0 && f.failedVerifications === 0;
  switch (level) {
    case 'suggest': return true;
    case 'approve': return clean && f.shadowed >= t.approve.shadowed;
    case 'auto-notify': return clean && f.verifiedSuccesses >= t.autoNotify.verifiedSuccesses && (f.successRate ?? 0) >= t.autoNotify.successRate;
    case 'auto': return clean && f.verifiedSuccesses >= t.auto.verifiedSuccesses && (f.successRate ?? 0) >= t.auto.successRate;
  }
}

/** What of `lower.*` the figures reached, in words (empty when none). */
function troubles(f: TrackRecordFigures, t: SuggestionThresholds): string[] {
  const found: string[] = [];
  if (f.failedVerifications >= t.lower.failedVerifications) found.push(plural(f.failedVerifications, 'failed verification'));
  if (f.corrections >= t.lower.corrections) found.push(plural(f.corrections, 'correction'));
  if (f.judged >= t.lower.minJudged && f.successRate !== null && f.successRate < t.lower.successRateBelow) found.push(`${percent(f.successRate)} over ${plural(f.judged, 'judged mission')}`);
  return found;
}

/** What a rung needs that the figures lack, in words. */
function shortfall(level: AutonomyLevel, f: TrackRecordFigures, t: SuggestionThresholds): string {
  const missing: string[] = [];
  if (level === 'approve' && f.shadowed < t.approve.shadowed) missing.push(`${f.shadowed} of the ${t.approve.shadowed} shadowed proposals approve needs`);
  const needs = level === 'auto-notify' ? t.autoNotify : level === 'auto' ? t.auto : undefined;
  if (needs !== undefined) {
    if (f.verifiedSuccesses < needs.verifiedSuccesses) missing.push(`${f.verifiedSuccesses} of the ${needs.verifiedSuccesses} verified successes ${level} needs`);
    if ((f.successRate ?? 0) < needs.successRate) missing.push(`${percent(f.successRate)}, below the ${(needs.successRate * 100).toFixed(0)}% ${level} needs`);
  }
  if (f.corrections > 0) missing.push(plural(f.corrections, 'correction'));
  if (f.failedVerifications > 0) missing.push(plural(f.failedVerifications, 'failed verification'));
  return missing.join(', ');
}

/**
 * The suggested rung for figures over a window of `windowMs` (ms), from `current` (an agent's
 * autonomy ceiling; null when unknown). Lower one rung when any `lower.*` threshold is reached (at
 * `suggest`: keep); else raise one rung when the next one is earned; else keep and say what the
 * next rung lacks. With `current` null: `supports` the highest rung earned (`approve` when a lower
 * threshold is reached or nothing more is earned). A suggestion only: never applied automatically.
 */
export function suggestAutonomy(f: TrackRecordFigures, current: AutonomyLevel | null, windowMs: number, thresholds: SuggestionThresholds = DEFAULT_SUGGESTION_THRESHOLDS): AutonomySuggestion {
  const within = `in ${windowText(windowMs)}`;
  const evidence = `${plural(f.verifiedSuccesses, 'verified success', 'verified successes')}, ${plural(f.corrections, 'correction')}, ${plural(f.failedVerifications, 'failed verification')} ${within}`;
  const found = troubles(f, thresholds);
  if (current === null) {
    if (found.length > 0) return { action: 'supports', from: null, to: 'approve', text: `supports approve at most (people approve every write): ${found.join(', ')} ${within}` };
    const level = earns('auto', f, thresholds) ? 'auto' : earns('auto-notify', f, thresholds) ? 'auto-notify' : 'approve';
    return { action: 'supports', from: null, to: level, text: `supports ${level}: ${evidence}` };
  }
  const rung = AUTONOMY_LEVELS.indexOf(current);
  if (found.length > 0) {
    const lower = AUTONOMY_LEVELS[rung - 1];
    if (lower === undefined) return { action: 'keep', from: current, to: current, text: `keep ${current} (the lowest rung): ${found.join(', ')} ${within}` };
    return { action: 'lower', from: current, to: lower, text: `lower to ${lower}: ${found.join(', ')} ${within}` };
  }
  const next = AUTONOMY_LEVELS[rung + 1];
  if (next === undefined) return { action: 'keep', from: current, to: current, text: `keep ${current} (the highest rung): ${evidence}` };
  if (earns(next, f, thresholds)) {
    const shown = next === 'approve' ? `${plural(f.shadowed, 'shadowed proposal')}, ${plural(f.corrections, 'correction')} ${within}` : evidence;
    return { action: 'raise', from: current, to: next, text: `raise to ${next}: ${shown}` };
  }
  return { action: 'keep', from: current, to: current, text: `keep ${current}: ${shortfall(next, f, thresholds)} ${within}` };
}

/**
 * The track record of the missions in `facts` (those created in `[since, until]`; others are
 * ignored), per agent (missions with an agent) and per runbook (missions with a runbook; a resolution
 * agent's mission planned from a runbook counts for both), sorted by name. `ceilings` gives each
 * loaded agent's `autonomyCeiling`, from which its suggestion climbs or descends.
 */
export function computeTrackRecord(input: {
  readonly facts: readonly MissionFacts[];
  readonly since: number;
  readonly until: number;
  readonly ceilings?: ReadonlyMap<string, AutonomyLevel>;
  readonly thresholds?: SuggestionThresholds;
}): TrackRecord {
  const { since, until } = input;
  const thresholds = input.thresholds ?? DEFAULT_SUGGESTION_THRESHOLDS;
  const byAgent = new Map<string, Tally>();
  const byRunbook = new Map<string, Tally>();
  for (const facts of input.facts) {
    if (facts.createdAt < since || facts.createdAt > until) continue;
    if (facts.agent !== null) add(byAgent.get(facts.agent) ?? byAgent.set(facts.agent, emptyTally()).get(facts.agent)!, facts);
    if (facts.runbook !== null) add(byRunbook.get(facts.runbook) ?? byRunbook.set(facts.runbook, emptyTally()).get(facts.runbook)!, facts);
  }
  const windowMs = until - since;
  const suggestion = (tally: Tally, current: AutonomyLevel | null) => suggestAutonomy(figures(tally), current, windowMs, thresholds);
  const sorted = <T>(map: Map<string, T>) => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    since, until,
    agents: sorted(byAgent).map(([agent, tally]) => {
      const ceiling = input.ceilings?.get(agent) ?? null;
      return { agent, projects: [...tally.projects].sort(), autonomyCeiling: ceiling, ...figures(tally), suggestion: suggestion(tally, ceiling) };
    }),
    runbooks: sorted(byRunbook).map(([runbook, tally]) => ({
      runbook, versions: [...tally.versions].sort((a, b) => a - b), projects: [...tally.projects].sort(), ...figures(tally), suggestion: suggestion(tally, null),
    })),
  };
}
