import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditEntry } from '../core/audit/entry.js';
import type { MissionDetail } from '../core/missions/mission.js';
import type { MissionEndSink, NotificationPayload, TicketChange, TicketSystem } from '../core/tickets/ports.js';
import { foldMissionEnd, ticketMessage, type NotificationEvent, type Ticket, type TicketEvent, type TicketStatus } from '../core/tickets/ticket.js';
import type { Database } from './schema.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The actor of ticket audit entries. */
const TICKETS_ACTOR = 'interlock-tickets';

/** A place notifications go (a configured webhook): its name and the events it takes. */
export interface NotificationTarget {
  readonly name: string;
  readonly events: readonly NotificationEvent[];
}

/** One queued delivery as the API shows it. Times in ms since the epoch. */
export interface NotificationRecord {
  /** The delivery ID (`X-Interlock-Delivery`). */
  readonly id: string;
  readonly target: string;
  readonly event: NotificationEvent;
  /** `pending` (queued or retrying), `delivered` (the receiver answered 2xx), `failed` (given up). */
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly ticketId: string | null;
  readonly missionId: string | null;
  readonly createdAt: number;
  /** When the next attempt is due (pending only). */
  readonly nextAttemptAt: number | null;
  readonly deliveredAt: number | null;
  /** The last failure, one line; null once delivered. */
  readonly lastError: string | null;
  /** The HTTP status of the last answer, when there was one. */
  readonly lastStatus: number | null;
}

/** Filter of {@link PgTicketStore.listTickets}; newest first. */
export interface TicketFilter {
  readonly status?: TicketStatus;
  readonly project?: string;
  /** At most this many. */
  readonly limit: number;
  /** Tickets opened before this one (its ID, `INC-<n>`): the next page. */
  readonly before?: string;
}

/** Settings of {@link PgTicketStore}. */
export interface PgTicketStoreOptions {
  readonly db: Kysely<Database>;
  /** The audit log; its entries are appended in the ticket's transaction (`PgAuditLog.appendIn`). */
  readonly audit: { appendIn(trx: Transaction<Database>, entries: readonly AuditEntry[]): Promise<number[]> };
  /** Where notifications go (`notifications.webhooks`). */
  readonly targets: readonly NotificationTarget[];
  /** Clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Called after a commit that queued deliveries (the dispatcher of this worker wakes up). */
  readonly onQueued?: () => void;
}

/** The ID of ticket number `n`: `INC-<n>`. */
function ticketId(number: number): string {
  return `INC-${number}`;
}

/** The number of a ticket ID, or undefined when it is not `INC-<n>`. */
function ticketNumber(id: string): number | undefined {
  const match = /^INC-(\d{1,15})$/.exec(id);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Advisory lock key of a ticket key, in the `int8` space of `pg_advisory_xact_lock`. */
function ticketLockKey(key: string): bigint {
  return createHash('sha256').update(`interlock.ticket:${key}`).digest().readBigInt64BE(0);
}

/** The event a target is told about among `events` (most important first): the first it takes. */
function eventFor(target: NotificationTarget, events: readonly TicketEvent[]): TicketEvent | undefined {
  return events.find((event) => target.events.includes(event));
}

type OutboxRow = {
  id: string; target: string; event: string; ticket_id: string | null; mission_id: string | null; status: 'pending' | 'delivered' | 'failed'; attempts: number;
  created_at: number; next_attempt_at: number; delivered_at: number | null; last_error: string | null; last_status: number | null;
};

function toNotification(row: OutboxRow): NotificationRecord {
  return {
    id: row.id, target: row.target, event: row.event as NotificationEvent, status: row.status, attempts: row.attempts, ticketId: row.ticket_id, missionId: row.mission_id,
    createdAt: row.created_at, nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null, deliveredAt: row.delivered_at, lastError: row.last_error, lastStatus: row.last_status,
  };
}

/**
 * The built-in ticket system on PostgreSQL (tables `tickets`, `ticket_missions`,
 * `notification_outbox`): records each finished mission on its incident's ticket with
 * {@link foldMissionEnd}, its audit entry and its notifications in one transaction, idempotently per
 * mission. Reports for one ticket are serialised by a transaction-level advisory lock on its key
 * (`incident:<id>` or `mission:<id>`), taken before the audit log's, so any number of workers may
 * report at once. Also queues `action.notify` notifications and reads tickets for the API.
 */
export class PgTicketStore implements TicketSystem, MissionEndSink {
  readonly #db: Kysely<Database>;
  readonly #audit: PgTicketStoreOptions['audit'];
  readonly #targets: readonly NotificationTarget[];
  readonly #now: () => number;
  readonly #onQueued: () => void;

  constructor(options: PgTicketStoreOptions) {
    this.#db = options.db;
    this.#audit = options.audit;
    this.#targets = options.targets;
    this.#now = options.now ?? Date.now;
    this.#onQueued = options.onQueued ?? (() => undefined);
  }

  /**
   * Records the end of `detail` on the ticket of its incident (`labels.incident`); see
   * {@link recordMissionEnd}. Answers the ticket ID, the same on every call for the same mission.
   */
  async missionEnded(detail: MissionDetail): Promise<{ ticketId: string }> {
    const { ticket } = await this.recordMissionEnd(detail, detail.labels.incident);
    return { ticketId: ticket.id };
  }

  /**
   * Records the end of mission `detail` on the ticket of incident `incidentId` (when it is a known
   * incident of the mission's project; otherwise on a ticket of the mission's own), in one
   * transaction: under the ticket's lock, unless the mission is recorded already, folds it into the
   * ticket (opening it with the next `INC-<n>`), stores the ticket and the mission, appends
   * `ticket.opened` or `ticket.updated` to the audit log, and queues one delivery per target that
   * takes one of the change's events (the most important one). Idempotent per mission.
   *
   * @throws InternalError `INTERNAL` when `detail` has no outcome; rejects, recording nothing, when a
   *   write (the audit entry's included) fails.
   */
  async recordMissionEnd(detail: MissionDetail, incidentId?: string): Promise<TicketChange> {
    let queued = 0;
    const change = await this.#db.transaction().execute(async (trx): Promise<TicketChange> => {
      const subject = await this.#subject(trx, detail, incidentId);
      await sql`select pg_advisory_xact_lock(${ticketLockKey(subject.key)})`.execute(trx);
      const recorded = await trx.selectFrom('interlock.ticket_missions as m').innerJoin('interlock.tickets as t', 't.id', 'm.ticket_id').select('t.ticket').where('m.mission_id', '=', detail.id).executeTakeFirst();
      if (recorded !== undefined) {
        const ticket = recorded.ticket as Ticket;
        return { ticket, change: 'unchanged', previousStatus: ticket.status, events: [] };
      }
      const existing = await trx.selectFrom('interlock.tickets').select(['ticket']).where('ticket_key', '=', subject.key).executeTakeFirst();
      const previous = existing?.ticket as Ticket | undefined;
      let id = previous?.id;
      let number: number | undefined;
      if (previous === undefined) {
        const next = await sql<{ n: number }>`select nextval('interlock.ticket_numbers')::bigint as n`.execute(trx);
        number = Number(next.rows[0]!.n);
        id = ticketId(number);
      }
      const fold = foldMissionEnd(previous, detail, { id: id!, incidentId: subject.incidentId, title: subject.title });
      const { ticket } = fold;
      const now = this.#now();
      const row = { project: ticket.project, status: ticket.status, title: ticket.title, ticket: JSON.stringify(ticket), updated_at: new Date(ticket.updatedAt) };
      if (previous === undefined) {
        await trx.insertInto('interlock.tickets').values({ id: ticket.id, number: number!, ticket_key: subject.key, incident_id: ticket.incidentId, created_at: new Date(ticket.createdAt), ...row }).execute();
      } else {
        await trx.updateTable('interlock.tickets').set(row).where('id', '=', ticket.id).execute();
      }
      await trx.insertInto('interlock.ticket_missions').values({ mission_id: detail.id, ticket_id: ticket.id, recorded_at: new Date(now) }).execute();
      const deliveries = this.#targets.flatMap((target) => {
        const event = eventFor(target, fold.events);
        return event === undefined ? [] : [{ target: target.name, event }];
      });
      await this.#audit.appendIn(trx, [{
        schemaVersion: 1, kind: fold.change === 'opened' ? 'ticket.opened' : 'ticket.updated', actor: TICKETS_ACTOR, missionId: detail.id, at: now,
        data: { ticketId: ticket.id, incidentId: ticket.incidentId, status: ticket.status, previousStatus: fold.previousStatus, outcome: ticket.outcome, reason: ticket.reason, events: [...fold.events], notifications: deliveries.map((d) => d.target) },
      }]);
      if (deliveries.length > 0) {
        await trx.insertInto('interlock.notification_outbox').values(deliveries.map(({ target, event }) => {
          const deliveryId = randomUUID();
          const payload: NotificationPayload = {
            id: deliveryId, event, occurredAt: detail.finishedAt ?? now, project: ticket.project, message: ticketMessage(ticket, event), ticket,
            mission: { id: detail.id, title: detail.title, outcome: detail.outcome },
          };
          return {
            id: deliveryId, target, event, dedupe_key: `mission-end:${detail.id}`, ticket_id: ticket.id, mission_id: detail.id, body: JSON.stringify(payload),
            status: 'pending' as const, attempts: 0, created_at: new Date(now), next_attempt_at: new Date(now),
          };
        })).onConflict((oc) => oc.columns(['target', 'dedupe_key']).doNothing()).execute();
        queued = deliveries.length;
      }
      return { ticket, change: fold.change, previousStatus: fold.previousStatus, events: fold.events };
    });
    if (queued > 0) this.#onQueued();
    return change;
  }

  /**
   * Queues an `action.notify` notification for mission `missionId` (an action runs under autonomy
   * level `auto-notify`) to every target that takes `action.notify`, with the mission and, when its
   * incident has a ticket, the ticket. Idempotent: the same message for the same mission is queued
   * once per target (a replayed review after a crash tells nobody twice).
   *
   * @returns the deliveries queued: 0 when no target takes `action.notify`, the mission is unknown,
   *   or it was queued before.
   */
  async notifyAction(missionId: string, message: string): Promise<number> {
    const targets = this.#targets.filter((target) => target.events.includes('action.notify'));
    if (targets.length === 0 || !UUID.test(missionId)) return 0;
    const mission = await this.#db.selectFrom('interlock.missions').select(['id', 'project', 'title', 'labels', 'outcome']).where('id', '=', missionId).executeTakeFirst();
    if (mission === undefined) return 0;
    const incident = mission.labels.incident;
    const found = incident === undefined || !UUID.test(incident)
      ? undefined
      : await this.#db.selectFrom('interlock.tickets').select(['ticket']).where('ticket_key', '=', `incident:${incident.toLowerCase()}`).where('project', '=', mission.project).executeTakeFirst();
    const ticket = (found?.ticket as Ticket | undefined) ?? null;
    const now = this.#now();
    const digest = createHash('sha256').update(message, 'utf8').digest('hex').slice(0, 32);
    const rows = targets.map((target) => {
      const deliveryId = randomUUID();
      const payload: NotificationPayload = {
        id: deliveryId, event: 'action.notify', occurredAt: now, project: mission.project, message, ticket,
        mission: { id: mission.id, title: mission.title, outcome: mission.outcome },
      };
      return {
        id: deliveryId, target: target.name, event: 'action.notify', dedupe_key: `action.notify:${mission.id}:${digest}`, ticket_id: ticket?.id ?? null, mission_id: mission.id,
        body: JSON.stringify(payload), status: 'pending' as const, attempts: 0, created_at: new Date(now), next_attempt_at: new Date(now),
      };
    });
    const inserted = await this.#db.insertInto('interlock.notification_outbox').values(rows).onConflict((oc) => oc.columns(['target', 'dedupe_key']).doNothing()).returning('id').execute();
    if (inserted.length > 0) this.#onQueued();
    return inserted.length;
  }

  /** Ticket `id` (`INC-<n>`), or undefined. */
  async getTicket(id: string): Promise<Ticket | undefined> {
    if (ticketNumber(id) === undefined) return undefined;
    const row = await this.#db.selectFrom('interlock.tickets').select('ticket').where('id', '=', id).executeTakeFirst();
    return row?.ticket as Ticket | undefined;
  }

  /** The ticket of incident `incidentId`, or undefined (no such incident, or no mission of it has ended). */
  async ticketOfIncident(incidentId: string): Promise<Ticket | undefined> {
    if (!UUID.test(incidentId)) return undefined;
    const row = await this.#db.selectFrom('interlock.tickets').select('ticket').where('ticket_key', '=', `incident:${incidentId.toLowerCase()}`).executeTakeFirst();
    return row?.ticket as Ticket | undefined;
  }

  /** Tickets matching `filter`, newest (highest number) first. */
  async listTickets(filter: TicketFilter): Promise<Ticket[]> {
    let query = this.#db.selectFrom('interlock.tickets').select('ticket').orderBy('number', 'desc').limit(filter.limit);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.project !== undefined) query = query.where('project', '=', filter.project);
    if (filter.before !== undefined) {
      const before = ticketNumber(filter.before);
      if (before !== undefined) query = query.where('number', '<', before);
    }
    return (await query.execute()).map((row) => row.ticket as Ticket);
  }

  /**
   * The deliveries of ticket `id`: those queued for its changes and the `action.notify` ones of its
   * missions, oldest first.
   */
  async notificationsOf(id: string): Promise<NotificationRecord[]> {
    const rows = await this.#db.selectFrom('interlock.notification_outbox')
      .select(['id', 'target', 'event', 'ticket_id', 'mission_id', 'status', 'attempts', 'created_at', 'next_attempt_at', 'delivered_at', 'last_error', 'last_status'])
      .where((eb) => eb.or([
        eb('ticket_id', '=', id),
        eb('mission_id', 'in', eb.selectFrom('interlock.ticket_missions').select('mission_id').where('ticket_id', '=', id)),
      ]))
      .orderBy('created_at').orderBy('id')
      .execute();
    return rows.map(toNotification);
  }

  /** The ticket key, incident and title of a mission: its incident's when known and of its project, else its own. */
  async #subject(trx: Transaction<Database>, detail: MissionDetail, incidentId: string | undefined): Promise<{ key: string; incidentId: string | null; title: string }> {
    if (incidentId !== undefined && UUID.test(incidentId)) {
      const incident = await trx.selectFrom('interlock.incidents').select(['id', 'project', 'title']).where('id', '=', incidentId).executeTakeFirst();
      if (incident !== undefined && incident.project === detail.project) return { key: `incident:${incident.id}`, incidentId: incident.id, title: incident.title };
    }
    return { key: `mission:${detail.id}`, incidentId: null, title: detail.title };
  }
}

