/**
 * The built-in ticket (DESIGN.md, "close | escalate: ticket, notify, audit checkpoint"): one record per
 * incident of what Interlock found and did (the diagnosis, the actions, how it ended and why), which
 * every mission of the incident updates when it ends. Pure: the store keeps tickets, this module only
 * folds a finished mission into one. See docs/tickets.md.
 */
import { redactSecrets } from '../audit/entry.js';
import { InternalError } from '../errors.js';
import type { MissionDetail, MissionStep, StepStatus } from '../missions/mission.js';
import type { Outcome } from '../missions/stages.js';
import { isWrite } from '../tools/tool.js';

/**
 * Where a ticket stands: `open` (being worked on, or only diagnosed), `resolved` (a mission executed
 * writes and verified them), `escalated` (a mission handed it to people).
 */
export const TICKET_STATUSES = ['open', 'resolved', 'escalated'] as const;

/** See {@link TICKET_STATUSES}. */
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/**
 * What a ticket change can notify about, in order of importance (a delivery names the most important
 * one its webhook subscribes to): the ticket escalated or resolved by a mission, opened; and
 * `action.notify`, an action that runs under autonomy level `auto-notify` (people are told as it runs).
 */
export const NOTIFICATION_EVENTS = ['ticket.escalated', 'ticket.resolved', 'ticket.opened', 'action.notify'] as const;

/** See {@link NOTIFICATION_EVENTS}. */
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** What recording a mission end did to its ticket; the `ticket.*` {@link NotificationEvent}s. */
export type TicketEvent = Exclude<NotificationEvent, 'action.notify'>;

/** One root-cause candidate of the diagnosis, as the ticket keeps it. */
export interface TicketHypothesis {
  readonly kind: string;
  readonly service: string | null;
  /** 0..1. */
  readonly confidence: number;
  readonly summary: string;
}

/** The latest diagnosis of the incident: the top hypotheses of a `diagnosis.run` step, best first. */
export interface TicketDiagnosis {
  /** The mission whose `diagnosis.run` step produced it. */
  readonly missionId: string;
  /** The diagnosis engine, e.g. `builtin-v1`; null when the result names none. */
  readonly engine: string | null;
  /** At most {@link MAX_HYPOTHESES}, highest confidence first. */
  readonly hypotheses: readonly TicketHypothesis[];
}

/** The undo of an action (saga compensation, step `<stepId>.undo`). */
export interface TicketCompensation {
  readonly stepId: string;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly status: StepStatus;
  /** One line: the result, or the error's code and message. */
  readonly result: string;
}

/** One executed plan step of a mission of the ticket. */
export interface TicketAction {
  readonly missionId: string;
  readonly stepId: string;
  readonly tool: string;
  /** The step's arguments, values under secret-looking keys replaced by `[REDACTED]`. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The step's final status: `succeeded`, `failed`, `unknown`, `compensated`, `compensation_failed`. */
  readonly status: StepStatus;
  /** One line: the result, or the error's code and message; at most {@link MAX_SUMMARY_CHARS} characters. */
  readonly result: string;
  readonly compensation: TicketCompensation | null;
  /** ms since the epoch; null when the step never finished. */
  readonly finishedAt: number | null;
}

/** A mission recorded on the ticket, in the order they ended. */
export interface TicketMission {
  readonly id: string;
  readonly title: string;
  readonly outcome: Outcome;
  /** Why it ended so (see {@link Ticket.reason}). */
  readonly reason: string;
  /** ms since the epoch. */
  readonly finishedAt: number;
}

/** One line of the ticket's history. */
export interface TicketTimelineEntry {
  /** ms since the epoch. */
  readonly at: number;
  readonly kind: 'opened' | 'diagnosis' | 'action' | 'compensation' | 'verification' | 'mission' | 'status';
  /** The mission it comes from. */
  readonly missionId: string;
  readonly message: string;
}

/**
 * A ticket: what Interlock knows and did about one incident (or about one mission tied to no
 * incident), as people read it when they pick it up. Times are ms since the epoch.
 */
export interface Ticket {
  /** Human-readable, from a sequence: `INC-42`. */
  readonly id: string;
  /** The incident (UUID); null for a ticket of a mission tied to no incident. */
  readonly incidentId: string | null;
  readonly project: string;
  /** The incident's title, or the first mission's. */
  readonly title: string;
  /** The service concerned: the missions' `service` label, else the top hypothesis's service. */
  readonly service: string | null;
  readonly status: TicketStatus;
  /** The latest diagnosis, or null before any. */
  readonly diagnosis: TicketDiagnosis | null;
  /** Executed plan steps of every mission, in the order they ended (at most {@link MAX_ACTIONS}, the latest). */
  readonly actions: readonly TicketAction[];
  /** How the latest mission ended. */
  readonly outcome: Outcome;
  /**
   * Why the latest mission ended so: its escalation reason (e.g. which verification failed and what
   * it observed) followed by what was compensated, or its closing reason.
   */
  readonly reason: string;
  readonly missions: readonly TicketMission[];
  /** What happened, oldest first (at most {@link MAX_TIMELINE}, the latest). */
  readonly timeline: readonly TicketTimelineEntry[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What the store supplies about the ticket a mission belongs to when it has none yet. */
export interface TicketSubject {
  /** The new ticket's ID, e.g. `INC-42`. */
  readonly id: string;
  readonly incidentId: string | null;
  /** The incident's title, or the mission's. */
  readonly title: string;
}

/** The result of {@link foldMissionEnd}. */
export interface TicketFold {
  readonly ticket: Ticket;
  /** `opened` for a new ticket, `updated` for a changed one, `unchanged` when the mission was recorded already. */
  readonly change: 'opened' | 'updated' | 'unchanged';
  /** The status before (null for a new ticket). */
  readonly previousStatus: TicketStatus | null;
  /** What to notify about, most important first; empty when unchanged. */
  readonly events: readonly TicketEvent[];
}

/** Hypotheses a ticket keeps. */
export const MAX_HYPOTHESES = 3;
/** Actions a ticket keeps (the latest). */
export const MAX_ACTIONS = 200;
/** Timeline entries a ticket keeps (the latest). */
export const MAX_TIMELINE = 500;
/** Longest one-line summary of a result, characters. */
export const MAX_SUMMARY_CHARS = 300;

/** The diagnosis tool whose result a ticket shows (`src/connectors/diagnosis`). */
const DIAGNOSIS_TOOL = 'diagnosis.run';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clip(text: string, max = MAX_SUMMARY_CHARS): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** One line for a step's outcome: its error, or its result as JSON (secrets redacted). */
function summarize(step: MissionStep): string {
  if (step.error !== null) return clip(`${step.error.code}: ${step.error.message}`);
  if (step.result === undefined || step.result === null) return '';
  if (step.tool === DIAGNOSIS_TOOL && isRecord(step.result) && Array.isArray(step.result.hypotheses)) {
    return clip(`${step.result.hypotheses.length} hypothesis(es)`);
  }
  let text: string;
  try {
    text = JSON.stringify(redactSecrets(step.result)) ?? '';
  } catch {
    text = '(a result JSON cannot represent)';
  }
  return clip(text);
}

function redactedArgs(args: Record<string, unknown>): Record<string, unknown> {
  try {
    return redactSecrets(args);
  } catch {
    return {};
  }
}

/** The top hypotheses of the mission's succeeded `diagnosis.run` plan step, if it has one. */
export function diagnosisOf(detail: MissionDetail): TicketDiagnosis | undefined {
  const step = detail.steps.find((s) => s.phase === 'plan' && s.tool === DIAGNOSIS_TOOL && s.status === 'succeeded' && isRecord(s.result));
  if (step === undefined || !isRecord(step.result) || !Array.isArray(step.result.hypotheses)) return undefined;
  const hypotheses = step.result.hypotheses.flatMap((item: unknown): TicketHypothesis[] => {
    if (!isRecord(item) || typeof item.confidence !== 'number' || !Number.isFinite(item.confidence)) return [];
    return [{
      kind: typeof item.kind === 'string' ? item.kind : 'unknown',
      service: typeof item.service === 'string' ? item.service : null,
      confidence: item.confidence,
      summary: typeof item.summary === 'string' ? clip(item.summary) : '',
    }];
  });
  hypotheses.sort((a, b) => b.confidence - a.confidence);
  return { missionId: detail.id, engine: typeof step.result.engine === 'string' ? step.result.engine : null, hypotheses: hypotheses.slice(0, MAX_HYPOTHESES) };
}

/** The mission's executed plan steps (not pending, not skipped), with their compensations. */
function actionsOf(detail: MissionDetail): TicketAction[] {
  const undo = new Map(detail.steps.filter((s) => s.phase === 'compensation').map((s) => [s.stepId, s]));
  return detail.steps
    .filter((s) => s.phase === 'plan' && s.status !== 'pending' && s.status !== 'skipped')
    .map((s) => {
      const compensation = undo.get(`${s.stepId}.undo`);
      return {
        missionId: detail.id,
        stepId: s.stepId,
        tool: s.tool,
        args: redactedArgs(s.args),
        status: s.status,
        result: summarize(s),
        compensation: compensation === undefined ? null : { stepId: compensation.stepId, tool: compensation.tool, args: redactedArgs(compensation.args), status: compensation.status, result: summarize(compensation) },
        finishedAt: s.finishedAt,
      };
    });
}

/**
 * Why the mission ended as it did: the escalation reason, with what each compensation did appended
 * (`; compensated s1 with ledger.remove: succeeded`), or the reason of its last transition.
 */
export function missionReason(detail: MissionDetail): string {
  const compensations = detail.steps
    .filter((s) => s.phase === 'compensation')
    .map((s) => `${s.stepId.replace(/\.undo$/, '')} with ${s.tool}: ${s.status}${s.error === null ? '' : ` (${s.error.message})`}`);
  const last = detail.history.at(-1);
  const base = detail.escalation?.reason ?? (last !== undefined && (last.to === 'close' || last.to === 'escalate') ? last.reason : `mission ${detail.outcome ?? 'unfinished'}`);
  return compensations.length === 0 ? base : `${base}; compensated ${compensations.join('; ')}`;
}

/** True when the mission executed a write step that succeeded and stayed done (not compensated). */
function executedWrites(detail: MissionDetail): boolean {
  return detail.steps.some((s) => s.phase === 'plan' && isWrite(s.risk) && s.status === 'succeeded');
}

/**
 * The status after the mission: `escalated` when it escalated; `resolved` when it resolved by
 * executing writes (and verifying them); otherwise the previous status (`open` for a new ticket): a
 * diagnosis, a suggestion, a denial, a cancellation or a shadow run resolves nothing.
 */
function nextStatus(previous: TicketStatus | undefined, detail: MissionDetail): TicketStatus {
  if (detail.outcome === 'escalated') return 'escalated';
  if (detail.outcome === 'resolved' && executedWrites(detail)) return 'resolved';
  return previous ?? 'open';
}

function describeHypothesis(h: TicketHypothesis): string {
  return `${h.kind}${h.service === null ? '' : ` in ${h.service}`} (confidence ${h.confidence.toFixed(2)})${h.summary === '' ? '' : `: ${h.summary}`}`;
}

/**
 * Folds the end of mission `detail` into its ticket: `previous` (undefined when the mission's
 * incident has no ticket yet; `subject` then names the new one). Adds the mission, its executed
 * actions with their compensations, its diagnosis (replacing an earlier one), and sets the outcome,
 * the reason and the status (see docs/tickets.md, "Lifecycle"). Idempotent: a mission already on
 * `previous` changes nothing (`change: 'unchanged'`, no events). Times come from the mission
 * (`finishedAt`), so folding is deterministic.
 *
 * @throws InternalError `INTERNAL` when `detail` has no outcome (the mission has not ended).
 */
export function foldMissionEnd(previous: Ticket | undefined, detail: MissionDetail, subject: TicketSubject): TicketFold {
  const outcome = detail.outcome;
  if (outcome === null) throw new InternalError(`Mission ${detail.id} has not ended (no outcome); a ticket records missions once they end.`);
  if (previous !== undefined && previous.missions.some((m) => m.id === detail.id)) {
    return { ticket: previous, change: 'unchanged', previousStatus: previous.status, events: [] };
  }
  const at = detail.finishedAt ?? detail.updatedAt;
  const reason = missionReason(detail);
  const diagnosis = diagnosisOf(detail);
  const actions = actionsOf(detail);
  const status = nextStatus(previous?.status, detail);
  const id = previous?.id ?? subject.id;

  const entries: TicketTimelineEntry[] = [];
  const entry = (when: number | null, kind: TicketTimelineEntry['kind'], message: string): void => {
    entries.push({ at: when ?? at, kind, missionId: detail.id, message: clip(message, 1000) });
  };
  const top = diagnosis?.hypotheses[0];
  if (diagnosis !== undefined) {
    const step = detail.steps.find((s) => s.phase === 'plan' && s.tool === DIAGNOSIS_TOOL && s.status === 'succeeded');
    entry(step?.finishedAt ?? null, 'diagnosis', top === undefined ? 'diagnosis found no hypothesis' : `diagnosis: ${describeHypothesis(top)}`);
  }
  for (const action of actions) {
    if (action.tool === DIAGNOSIS_TOOL) continue;
    entry(action.finishedAt, 'action', `${action.stepId} ${action.tool}: ${action.status}${action.result === '' ? '' : ` (${action.result})`}`);
    if (action.compensation !== null) {
      const undo = detail.steps.find((s) => s.stepId === action.compensation?.stepId);
      entry(undo?.finishedAt ?? null, 'compensation', `${action.compensation.stepId} ${action.compensation.tool}: ${action.compensation.status}`);
    }
  }
  for (const check of detail.steps.filter((s) => s.phase === 'verification' && s.status !== 'pending' && s.status !== 'skipped')) {
    entry(check.finishedAt, 'verification', `${check.stepId} ${check.tool}: ${check.status}${summarize(check) === '' ? '' : ` (${summarize(check)})`}`);
  }
  entry(at, 'mission', `mission "${detail.title}" ended ${outcome}: ${reason}`);
  if (previous === undefined) entry(at, 'opened', `ticket ${id} opened (${status})`);
  else if (previous.status !== status) entry(at, 'status', `${previous.status} → ${status}`);
  entries.sort((a, b) => a.at - b.at);

  const events: TicketEvent[] = [];
  if (outcome === 'escalated') events.push('ticket.escalated');
  if (status === 'resolved' && outcome === 'resolved') events.push('ticket.resolved');
  if (previous === undefined) events.push('ticket.opened');

  const ticket: Ticket = {
    id,
    incidentId: previous?.incidentId ?? subject.incidentId,
    project: previous?.project ?? detail.project,
    title: previous?.title ?? subject.title,
    service: detail.labels.service ?? previous?.service ?? top?.service ?? null,
    status,
    diagnosis: diagnosis ?? previous?.diagnosis ?? null,
    actions: [...(previous?.actions ?? []), ...actions].slice(-MAX_ACTIONS),
    outcome,
    reason,
    missions: [...(previous?.missions ?? []), { id: detail.id, title: detail.title, outcome, reason, finishedAt: at }],
    timeline: [...(previous?.timeline ?? []), ...entries].slice(-MAX_TIMELINE),
    createdAt: previous?.createdAt ?? at,
    updatedAt: Math.max(previous?.updatedAt ?? at, at),
  };
  return { ticket, change: previous === undefined ? 'opened' : 'updated', previousStatus: previous?.status ?? null, events };
}

/** The one-line message of a ticket notification, e.g. `INC-42 escalated: verification of step s1 … failed`. */
export function ticketMessage(ticket: Ticket, event: TicketEvent): string {
  const verb = event === 'ticket.opened' ? 'opened' : event === 'ticket.resolved' ? 'resolved' : 'escalated';
  return clip(`${ticket.id} ${verb}: ${ticket.title} — ${ticket.reason}`, 1000);
}
