import { createHash, randomUUID } from 'node:crypto';
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { applySignal, groupKeyOf, sweepIncident, type IncidentEvent, type IncidentSettings, type IncidentState } from '../core/incidents/incident.js';
import type { Signal, SignalKind } from '../core/signals/signal.js';
import type { Database, SignalsTable } from './schema.js';

/** Signal rows per INSERT (15 parameters each, well under PostgreSQL's 65,535). */
const INSERT_CHUNK = 1000;

/** One accepted intake request: where it came from and the signals parsed from it. */
export interface IntakeInput {
  readonly source: string;
  /** Project of the source: incidents it opens belong to it. */
  readonly project: string;
  readonly kind: SignalKind;
  /** The request's media type, e.g. `application/json`. */
  readonly contentType: string;
  /** The request body as received. */
  readonly body: Uint8Array;
  /** The authenticated sender (principal or HMAC key name), or null. */
  readonly principal: string | null;
  /** ms since the epoch. */
  readonly receivedAt: number;
  readonly signals: readonly Signal[];
}

/** What one signal did. */
export interface SignalOutcome {
  readonly signalId: string;
  readonly fingerprint: string;
  /** The incident it was grouped into; null when it was ignored (a resolved signal for no incident). */
  readonly incidentId: string | null;
  readonly events: readonly IncidentEvent[];
}

/** An incident whose state the intake changed, with the events (of all its signals, in order). */
export interface TouchedIncident {
  readonly id: string;
  readonly events: readonly IncidentEvent[];
  readonly status: 'open' | 'resolved';
  readonly flapping: boolean;
  readonly missionId: string | null;
  /** Missions started for it before this intake; the next one's idempotency key uses it. */
  readonly missionsStarted: number;
}

/** What {@link PgSignalStore.intake} stored, in one committed transaction. */
export interface IntakeResult {
  readonly intakeId: string;
  readonly bodySha256: string;
  readonly signals: readonly SignalOutcome[];
  readonly incidents: readonly TouchedIncident[];
}

/** An incident as listed and shown. Times in ms. */
export interface IncidentRecord {
  readonly id: string;
  readonly title: string;
  readonly groupKey: string;
  readonly source: string;
  readonly project: string;
  readonly status: 'open' | 'resolved';
  readonly flapping: boolean;
  readonly openedAt: number;
  readonly resolvedAt: number | null;
  readonly lastSignalAt: number;
  readonly missionId: string | null;
  readonly missionsStarted: number;
  readonly state: IncidentState;
}

/** A stored signal. Times in ms. */
export interface SignalRecord extends Signal {
  readonly id: string;
  readonly intakeId: string;
  readonly receivedAt: number;
  readonly incidentId: string | null;
  readonly events: readonly IncidentEvent[];
}

/** Filter of {@link PgSignalStore.listIncidents}; newest first. */
export interface IncidentFilter {
  readonly status?: 'open' | 'resolved';
  readonly limit: number;
  /** Incidents opened before this one (its ID): the next page. */
  readonly before?: string;
  /** Incidents of this project. */
  readonly project?: string;
}

type IncidentRow = {
  id: string; group_key: string; source: string; project: string; status: 'open' | 'resolved'; flapping: boolean; title: string; state: unknown;
  opened_at: number; resolved_at: number | null; last_signal_at: number; mission_id: string | null; missions_started: number;
};

function toIncident(row: IncidentRow): IncidentRecord {
  return {
    id: row.id, title: row.title, groupKey: row.group_key, source: row.source, project: row.project, status: row.status, flapping: row.flapping,
    openedAt: row.opened_at, resolvedAt: row.resolved_at, lastSignalAt: row.last_signal_at, missionId: row.mission_id,
    missionsStarted: row.missions_started, state: row.state as IncidentState,
  };
}

/** The title of an incident: its alert name and group labels, e.g. `HighErrorRate (service=checkout)`. */
export function incidentTitle(state: IncidentState): string {
  const { alertname, ...rest } = state.groupLabels;
  const labels = Object.keys(rest).sort().map((name) => `${name}=${rest[name]}`).join(', ');
  return labels === '' ? (alertname ?? state.groupKey) : `${alertname ?? ''} (${labels})`;
}

/** Advisory lock key of a group key, in the `int8` space of `pg_advisory_xact_lock`. */
function groupLockKey(groupKey: string): bigint {
  return createHash('sha256').update(`interlock.incident:${groupKey}`).digest().readBigInt64BE(0);
}

/**
 * Signals and incidents on PostgreSQL: an intake request, its signals and the incidents they change
 * are stored in one transaction, so what was answered 2xx is never lost and never half applied.
 * Incidents of one group key are changed under a transaction-level advisory lock on that key (locks
 * taken in sorted order, so concurrent intakes cannot deadlock), which makes grouping correct with
 * any number of workers.
 */
export class PgSignalStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Stores an intake request and applies its signals, in order, to their incidents
   * (`applySignal`, `src/core/incidents/incident.ts`), in one transaction, with whatever
   * `alsoRecord` writes in it (the audit entry). Resolves once committed; rejects (storing nothing)
   * when any write, `alsoRecord`'s included, fails.
   */
  async intake(input: IntakeInput, settings: IncidentSettings, alsoRecord?: (trx: Transaction<Database>, stored: Omit<IntakeResult, 'incidents'>) => Promise<void>): Promise<IntakeResult> {
    const intakeId = randomUUID();
    const bodySha256 = createHash('sha256').update(input.body).digest('hex');
    return this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('interlock.signal_intakes').values({
        id: intakeId, source: input.source, kind: input.kind, received_at: new Date(input.receivedAt), content_type: input.contentType,
        body: Buffer.from(input.body), body_sha256: bodySha256, signal_count: input.signals.length, principal: input.principal,
      }).execute();
      const keys = [...new Set(input.signals.map((signal) => groupKeyOf(signal, settings.groupBy)))].sort();
      for (const key of keys) await sql`select pg_advisory_xact_lock(${groupLockKey(key)})`.execute(trx);
      const latest = new Map<string, IncidentRow | undefined>();
      for (const key of keys) latest.set(key, await this.#latest(trx, key));
      const touched = new Map<string, { row: IncidentRow; events: IncidentEvent[]; before: number }>();
      const outcomes: SignalOutcome[] = [];
      const rows: Insertable<SignalsTable>[] = [];
      for (const signal of input.signals) {
        const key = groupKeyOf(signal, settings.groupBy);
        const current = latest.get(key);
        const decision = applySignal(current?.state as IncidentState | undefined, signal, input.receivedAt, settings);
        let row: IncidentRow | undefined = current;
        if (decision.incident !== undefined && decision.incident !== current?.state) {
          const state = decision.incident;
          const isNew = decision.events.includes('opened');
          row = {
            id: isNew || current === undefined ? randomUUID() : current.id,
            group_key: key, source: state.source, project: isNew || current === undefined ? input.project : current.project, status: state.status, flapping: state.flapping, title: incidentTitle(state), state,
            opened_at: state.openedAt, resolved_at: state.resolvedAt, last_signal_at: state.lastSignalAt,
            mission_id: isNew ? null : (current?.mission_id ?? null), missions_started: isNew ? 0 : (current?.missions_started ?? 0),
          };
          latest.set(key, row);
          const seen = touched.get(row.id);
          touched.set(row.id, { row, events: [...(seen?.events ?? []), ...decision.events], before: seen?.before ?? row.missions_started });
        }
        const signalId = randomUUID();
        const incidentId = decision.events.includes('ignored') ? null : (row?.id ?? null);
        rows.push({
          id: signalId, intake_id: intakeId, source: signal.source, kind: signal.kind, fingerprint: signal.fingerprint, status: signal.status, name: signal.name,
          labels: JSON.stringify(signal.labels), annotations: JSON.stringify(signal.annotations), starts_at: new Date(signal.startsAt),
          ends_at: signal.endsAt === null ? null : new Date(signal.endsAt), generator_url: signal.generatorURL, received_at: new Date(input.receivedAt),
          incident_id: incidentId, events: [...decision.events],
        });
        outcomes.push({ signalId, fingerprint: signal.fingerprint, incidentId, events: decision.events });
      }
      // Incidents first: signals reference them.
      for (const { row } of touched.values()) await this.#save(trx, row);
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('interlock.signals').values(rows.slice(i, i + INSERT_CHUNK)).execute();
      await alsoRecord?.(trx, { intakeId, bodySha256, signals: outcomes });
      return {
        intakeId,
        bodySha256,
        signals: outcomes,
        incidents: [...touched.values()].map(({ row, events, before }) => ({ id: row.id, events, status: row.status, flapping: row.flapping, missionId: row.mission_id, missionsStarted: before })),
      };
    });
  }

  async #latest(trx: Transaction<Database>, groupKey: string): Promise<IncidentRow | undefined> {
    return trx.selectFrom('interlock.incidents').selectAll().where('group_key', '=', groupKey).orderBy('opened_at', 'desc').orderBy('id').limit(1).executeTakeFirst();
  }

  async #save(trx: Transaction<Database>, row: IncidentRow): Promise<void> {
    const values = {
      group_key: row.group_key, source: row.source, project: row.project, status: row.status, flapping: row.flapping, title: row.title, state: JSON.stringify(row.state),
      opened_at: new Date(row.opened_at), resolved_at: row.resolved_at === null ? null : new Date(row.resolved_at), last_signal_at: new Date(row.last_signal_at),
      mission_id: row.mission_id, missions_started: row.missions_started,
    };
    await trx.insertInto('interlock.incidents').values({ id: row.id, ...values }).onConflict((oc) => oc.column('id').doUpdateSet(values)).execute();
  }

  /**
   * Records that mission `missionId` was started for incident `id` (the `missionsStarted + 1`th).
   * Idempotent: a second call with the same mission changes nothing.
   */
  async setMission(id: string, missionId: string): Promise<void> {
    await this.#db.updateTable('interlock.incidents')
      .set((eb) => ({ mission_id: missionId, missions_started: eb('missions_started', '+', 1) }))
      .where('id', '=', id)
      .where((eb) => eb.or([eb('mission_id', 'is', null), eb('mission_id', '!=', missionId)]))
      .execute();
  }

  /** Open, non-flapping incidents with no mission yet (a crash between intake and mission start), oldest first. */
  async openWithoutMission(limit: number): Promise<IncidentRecord[]> {
    const rows = await this.#db.selectFrom('interlock.incidents').selectAll().where('status', '=', 'open').where('flapping', '=', false).where('mission_id', 'is', null).orderBy('opened_at').limit(limit).execute();
    return rows.map(toIncident);
  }

  /** Resolves flapping incidents that have been quiet long enough (`sweepIncident`); returns their IDs. */
  async sweepFlapping(now: number, settings: IncidentSettings): Promise<string[]> {
    const candidates = await this.#db.selectFrom('interlock.incidents').select(['id', 'group_key']).where('status', '=', 'open').where('flapping', '=', true).execute();
    const resolved: string[] = [];
    for (const candidate of candidates) {
      const done = await this.#db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${groupLockKey(candidate.group_key)})`.execute(trx);
        const row = await trx.selectFrom('interlock.incidents').selectAll().where('id', '=', candidate.id).executeTakeFirst();
        if (row === undefined) return false;
        const decision = sweepIncident(row.state as IncidentState, now, settings);
        if (!decision.events.includes('resolved') || decision.incident === undefined) return false;
        const state = decision.incident;
        await this.#save(trx, { ...row, status: state.status, flapping: state.flapping, resolved_at: state.resolvedAt, state });
        return true;
      });
      if (done) resolved.push(candidate.id);
    }
    return resolved;
  }

  /** One incident, or undefined. */
  async getIncident(id: string): Promise<IncidentRecord | undefined> {
    const row = await this.#db.selectFrom('interlock.incidents').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toIncident(row);
  }

  /** Incidents, newest first. */
  async listIncidents(filter: IncidentFilter): Promise<IncidentRecord[]> {
    let query = this.#db.selectFrom('interlock.incidents').selectAll().orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(filter.limit);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.project !== undefined) query = query.where('project', '=', filter.project);
    if (filter.before !== undefined) {
      const before = await this.#db.selectFrom('interlock.incidents').select(['opened_at', 'id']).where('id', '=', filter.before).executeTakeFirst();
      if (before !== undefined) {
        query = query.where((eb) => eb.or([
          eb('opened_at', '<', new Date(before.opened_at) as unknown as number),
          eb.and([eb('opened_at', '=', new Date(before.opened_at) as unknown as number), eb('id', '<', before.id)]),
        ]));
      }
    }
    return (await query.execute()).map(toIncident);
  }

  /** The signals of an incident, oldest first, at most `limit`. */
  async signalsOf(incidentId: string, limit: number): Promise<SignalRecord[]> {
    const rows = await this.#db.selectFrom('interlock.signals').selectAll().where('incident_id', '=', incidentId).orderBy('seq').limit(limit).execute();
    return rows.map((row) => ({
      id: row.id, intakeId: row.intake_id, source: row.source, kind: row.kind as SignalKind, fingerprint: row.fingerprint, status: row.status, name: row.name,
      labels: row.labels, annotations: row.annotations, startsAt: row.starts_at, endsAt: row.ends_at, generatorURL: row.generator_url,
      receivedAt: row.received_at, incidentId: row.incident_id, events: row.events as IncidentEvent[],
    }));
  }
}
