import type { Kysely } from 'kysely';
import type { ActionRecord } from '../core/guards/breaker.js';
import type { KillSwitch } from '../core/guards/kill-switch.js';
import type { GuardStore } from '../core/ports.js';
import { timestamptz, type Database } from './schema.js';

type KillSwitchRow = { scope: string; engaged: boolean; reason: string; engaged_by: string | null; engaged_at: number | null; released_by: string | null; released_at: number | null };

function toKillSwitch(row: KillSwitchRow): KillSwitch {
  return { scope: row.scope, engaged: row.engaged, reason: row.reason, engagedBy: row.engaged_by, engagedAt: row.engaged_at, releasedBy: row.released_by, releasedAt: row.released_at };
}

/** {@link GuardStore} on PostgreSQL: tables `kill_switches`, `action_log` and `frozen_actions`. */
export class PgGuardStore implements GuardStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async engagedKillSwitches(scopes: readonly string[]): Promise<KillSwitch[]> {
    if (scopes.length === 0) return [];
    const rows = await this.#db.selectFrom('interlock.kill_switches').selectAll().where('scope', 'in', [...scopes]).where('engaged', '=', true).execute();
    return rows.map(toKillSwitch);
  }

  async engageKillSwitch(scope: string, by: string, reason: string, at: number): Promise<KillSwitch> {
    const row = await this.#db
      .insertInto('interlock.kill_switches')
      .values({ scope, engaged: true, reason, engaged_by: by, engaged_at: new Date(at), released_by: null, released_at: null })
      .onConflict((oc) => oc.column('scope').doUpdateSet({ engaged: true, reason, engaged_by: by, engaged_at: new Date(at), released_by: null, released_at: null }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toKillSwitch(row);
  }

  async releaseKillSwitch(scope: string, by: string, at: number): Promise<KillSwitch | undefined> {
    const row = await this.#db
      .updateTable('interlock.kill_switches')
      .set({ engaged: false, released_by: by, released_at: new Date(at) })
      .where('scope', '=', scope)
      .where('engaged', '=', true)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toKillSwitch(row);
  }

  async listKillSwitches(): Promise<KillSwitch[]> {
    const rows = await this.#db.selectFrom('interlock.kill_switches').selectAll().orderBy('scope').execute();
    return rows.map(toKillSwitch);
  }

  async recordAction(action: ActionRecord): Promise<void> {
    await this.#db
      .insertInto('interlock.action_log')
      .values({ mission_id: action.missionId, step_id: action.stepId, tool: action.tool, target_key: action.targetKey, agent: action.agent, state_hash: action.stateHash, at: new Date(action.at) })
      .onConflict((oc) => oc.columns(['mission_id', 'step_id']).doNothing())
      .execute();
  }

  async recentActions(filter: { readonly tool?: string; readonly targetKey?: string; readonly agent?: string; readonly since: number }): Promise<ActionRecord[]> {
    let query = this.#db.selectFrom('interlock.action_log').selectAll().where('at', '>=', timestamptz(filter.since));
    if (filter.tool !== undefined) query = query.where('tool', '=', filter.tool);
    if (filter.targetKey !== undefined) query = query.where('target_key', '=', filter.targetKey);
    if (filter.agent !== undefined) query = query.where('agent', '=', filter.agent);
    const rows = await query.orderBy('at').execute();
    return rows.map((r) => ({ missionId: r.mission_id, stepId: r.step_id, tool: r.tool, targetKey: r.target_key, agent: r.agent, stateHash: r.state_hash, at: r.at }));
  }

  async freeze(tool: string, targetKey: string, until: number, reason: string, at: number): Promise<void> {
    await this.#db
      .insertInto('interlock.frozen_actions')
      .values({ tool, target_key: targetKey, until: new Date(until), reason, at: new Date(at) })
      .onConflict((oc) => oc.columns(['tool', 'target_key']).doUpdateSet({ until: new Date(until), reason, at: new Date(at) }))
      .execute();
  }

  async frozen(tool: string, targetKey: string, now: number): Promise<{ until: number; reason: string } | undefined> {
    const row = await this.#db
      .selectFrom('interlock.frozen_actions')
      .select(['until', 'reason'])
      .where('tool', '=', tool)
      .where('target_key', '=', targetKey)
      .where('until', '>', timestamptz(now))
      .executeTakeFirst();
    return row;
  }
}
