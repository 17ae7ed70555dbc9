/**
 * The ports of closing and escalating (DESIGN.md, "close | escalate: ticket, notify, audit
 * checkpoint"): where a finished mission is recorded as a ticket, and how people are told. The
 * built-in implementations are the PostgreSQL ticket store (`src/store/ticket-store.ts`) and the
 * webhook notifier (`src/server/notifications.ts`); Jira, ServiceNow and Slack are each one more
 * adapter of the same port. See docs/tickets.md.
 */
import type { MissionDetail } from '../missions/mission.js';
import type { NotificationEvent, Ticket, TicketEvent, TicketStatus } from './ticket.js';

/** What recording a mission end did: the ticket after it and what changed. */
export interface TicketChange {
  readonly ticket: Ticket;
  /** `unchanged` when the mission was recorded before (nothing was written, nothing is notified). */
  readonly change: 'opened' | 'updated' | 'unchanged';
  readonly previousStatus: TicketStatus | null;
  /** What was notified about, most important first; empty when unchanged. */
  readonly events: readonly TicketEvent[];
}

/**
 * A system of record for tickets: the built-in one (PostgreSQL) now, Jira or ServiceNow later.
 *
 * Contract: `recordMissionEnd` is idempotent per mission. The same mission reported twice (a replayed
 * step after a crash, a second worker) changes nothing the second time and returns the ticket as it
 * is, `change: 'unchanged'`. The ticket, its audit entry (`ticket.opened` or `ticket.updated`, naming
 * the ticket ID) and its notifications are recorded together or not at all: when it rejects, nothing
 * was recorded and the caller retries. Reports of different missions of one incident are applied one
 * at a time, in the order they arrive.
 */
export interface TicketSystem {
  /**
   * Records the end of mission `detail` (it must have an `outcome`) on the ticket of incident
   * `incidentId`, opening it when the incident has none; without an incident (or for an incident
   * of another project, or unknown), on a ticket of the mission's own.
   * @throws InternalError `INTERNAL` when the mission has no outcome; a database error rejects.
   */
  recordMissionEnd(detail: MissionDetail, incidentId?: string): Promise<TicketChange>;
}

/**
 * What the engine calls from a mission's close or escalate step: records the mission on its
 * incident's ticket (the incident is the mission's `incident` label; the diagnosis is its
 * `diagnosis.run` step's result, when it has one) and answers the ticket ID for the audit record.
 * Idempotent per mission, as {@link TicketSystem.recordMissionEnd}: a replayed step gets the same ID.
 */
export interface MissionEndSink {
  /**
   * @param detail the finished mission: its `outcome` set (and `escalation` when it escalated), as
   *   stored after its last transition.
   * @throws as {@link TicketSystem.recordMissionEnd}
   */
  missionEnded(detail: MissionDetail): Promise<{ ticketId: string }>;
}

/**
 * The JSON body of a notification, the same for every channel (webhook body; a Slack adapter would
 * render it). Times in ms since the epoch.
 */
export interface NotificationPayload {
  /** The delivery ID (UUID): the same for every attempt of one delivery; receivers de-duplicate by it. */
  readonly id: string;
  readonly event: NotificationEvent;
  /** When what is notified happened. */
  readonly occurredAt: number;
  readonly project: string;
  /** One line for people, e.g. `INC-42 escalated: … — verification of step s1 failed …`. */
  readonly message: string;
  /** The ticket as it was after the change (null for an `action.notify` of a mission with no ticket yet). */
  readonly ticket: Ticket | null;
  /** The mission that caused it. */
  readonly mission: { readonly id: string; readonly title: string; readonly outcome: string | null } | null;
}

/** One delivery to one notification target, as the dispatcher hands it to its {@link Notifier}. */
export interface Notification {
  /** The delivery ID (UUID), stable across attempts. */
  readonly id: string;
  /** The configured target's name (e.g. a webhook's `name`). */
  readonly target: string;
  readonly event: NotificationEvent;
  /** The exact body to send (the JSON of {@link payload}); the same bytes on every attempt. */
  readonly body: string;
  readonly payload: NotificationPayload;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** Why a delivery attempt failed. Carries no secret and no header value. */
export interface NotifierFailure {
  readonly reason: 'timeout' | 'network' | 'http' | 'internal';
  /** One line: for an HTTP answer, its status and the first bytes of its body. */
  readonly message: string;
  /** The HTTP status, when the receiver answered. */
  readonly status?: number;
  /** The receiver's Retry-After as a delay, ms. */
  readonly retryAfterMs?: number;
  /** True when trying again unchanged is likely to fail again (e.g. HTTP 4xx other than 408, 429). */
  readonly persistent: boolean;
}

/**
 * A channel that tells people: a webhook now, Slack later. Delivery is at least once: the dispatcher
 * calls `deliver` again for the same notification (same `id`, same `body`) after a failure or a crash,
 * so a receiver de-duplicates by the delivery ID.
 */
export interface Notifier {
  /** The target name outbox rows are addressed to. */
  readonly name: string;
  /**
   * Delivers one notification; resolves undefined once the receiver accepted it, or the failure.
   * Never rejects for a failure of the receiver (it is a value). `signal` aborts an attempt (shutdown).
   */
  deliver(notification: Notification, signal: AbortSignal): Promise<NotifierFailure | undefined>;
}
