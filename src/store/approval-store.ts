import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ApprovalRequest, ApprovalVote, VoteResult } from '../core/approvals/approval.js';
import { bindingHash, canonicalJson } from '../core/approvals/binding-hash.js';
import { InternalError } from '../core/errors.js';
import type { ApprovalBinding, ApprovalFilter, ConsumeRefusalCode } from '../core/ports.js';
import type { DecisionReason } from '../core/review/decision.js';
import type { RiskClass } from '../core/tools/tool.js';
import { timestamptz, type ApprovalsTable, type Database } from './schema.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 500;

/** An approval request to open. */
export interface NewApproval {
  readonly binding: ApprovalBinding;
  readonly requester: string;
  readonly quorum: number;
  readonly groups: readonly string[];
  /** ms since the Unix epoch. */
  readonly expiresAt: number;
  readonly reasons: readonly DecisionReason[];
  readonly risk: RiskClass;
  /** ms since the Unix epoch. */
  readonly at: number;
}

/**
 * Runs inside the transaction of {@link PgApprovalStore.vote} after the vote is applied, with the
 * request as it was before the vote and the result; throwing rolls the vote back.
 */
export type VoteRecorder = (trx: Transaction<Database>, before: ApprovalRequest, result: VoteResult) => Promise<void>;

/** What {@link PgApprovalStore.consume} answers: used now, or refused with a code and a sentence. */
export type ConsumeResult = { readonly ok: true } | { readonly ok: false; readonly code: ConsumeRefusalCode; readonly reason: string };

type ApprovalRow = Selectable<ApprovalsTable>;

/**
 * Approval requests and their votes on PostgreSQL (tables `interlock.approvals` and
 * `interlock.approval_votes`; run `migrateToLatest` first). Votes on one request are serialised by a
 * row lock; using a grant is one conditional `UPDATE`, so of two concurrent consumers exactly one
 * wins. Delivery of each decision to its mission is claimed with a lease, so one worker delivers it.
 * Times are ms since the Unix epoch.
 */
export class PgApprovalStore {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Opens a pending request for `approval.binding`, or returns the one already open for the same
   * mission and binding hash (`created: false`), whatever its status.
   * @throws InternalError `INTERNAL` when the binding cannot be canonicalised, or its mission does not exist.
   */
  async create(approval: NewApproval): Promise<{ request: ApprovalRequest; created: boolean }> {
    const text = canonicalJson(approval.binding);
    const actionHash = bindingHash(approval.binding);
    const id = randomUUID();
    let inserted: { id: string } | undefined;
    try {
      inserted = await this.#db
        .insertInto('interlock.approvals')
        .values({
          id,
          mission_id: approval.binding.missionId,
          project: approval.binding.project,
          requester: approval.requester,
          action_hash: actionHash,
          binding: text,
          quorum: approval.quorum,
          groups: JSON.stringify(approval.groups),
          expires_at: new Date(approval.expiresAt),
          reasons: JSON.stringify(approval.reasons),
          risk: approval.risk,
          status: 'pending',
          created_at: new Date(approval.at),
          decided_at: null,
          consumed_at: null,
          notify_claimed_at: null,
          notified_at: null,
        })
        .onConflict((oc) => oc.columns(['mission_id', 'action_hash']).doNothing())
        .returning('id')
        .executeTakeFirst();
    } catch (error) {
      if ((error as { code?: unknown }).code === '23503') {
        throw new InternalError(`Cannot open an approval request for mission ${approval.binding.missionId}: no such mission.`, { cause: error, details: { missionId: approval.binding.missionId } });
      }
      throw error;
    }
    const existing = await this.#db
      .selectFrom('interlock.approvals')
      .selectAll()
      .where('mission_id', '=', approval.binding.missionId)
      .where('action_hash', '=', actionHash)
      .executeTakeFirstOrThrow();
    return { request: await this.#withVotes(this.#db, existing), created: inserted !== undefined };
  }

  /** The request with ID `id` and its votes, or undefined (also for an ID that is not a UUID). */
  async get(id: string): Promise<ApprovalRequest | undefined> {
    if (!UUID.test(id)) return undefined;
    const row = await this.#db.selectFrom('interlock.approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : this.#withVotes(this.#db, row);
  }

  /** Requests matching `filter`, newest first, with their votes. */
  async list(filter: ApprovalFilter): Promise<ApprovalRequest[]> {
    let query = this.#db.selectFrom('interlock.approvals').selectAll();
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.project !== undefined) query = query.where('project', '=', filter.project);
    if (filter.missionId !== undefined) {
      if (!UUID.test(filter.missionId)) return [];
      query = query.where('mission_id', '=', filter.missionId);
    }
    const limit = Math.min(Math.max(filter.limit ?? DEFAULT_LIST_LIMIT, 1), MAX_LIST_LIMIT);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    if (rows.length === 0) return [];
    const votes = await this.#db
      .selectFrom('interlock.approval_votes')
      .selectAll()
      .where('approval_id', 'in', rows.map((row) => row.id))
      .orderBy('at')
      .orderBy('principal_name')
      .execute();
    return rows.map((row) => toRequest(row, votes.filter((vote) => vote.approval_id === row.id).map(toVote)));
  }

  /**
   * Applies a vote under a row lock: reads the request (and its votes) `FOR UPDATE`, asks `apply`
   * (the pure voting rules) what happens, and stores it in the same transaction: the vote and the new
   * status when counted; status `expired` when refused because time ran out. Concurrent votes on one
   * request are applied one after the other, each seeing the ones before. Then `record` runs inside
   * the same transaction with the request as it was and the result (to append its audit entries):
   * when it throws, nothing of the vote is stored and the error rejects. Undefined when there is no
   * request `id`.
   */
  async vote(id: string, now: number, apply: (request: ApprovalRequest) => VoteResult, record?: VoteRecorder): Promise<VoteResult | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('interlock.approvals').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (row === undefined) return undefined;
      const before = await this.#withVotes(trx, row);
      const result = apply(before);
      if (result.ok) {
        const { vote, request } = result;
        await trx
          .insertInto('interlock.approval_votes')
          .values({ approval_id: id, principal_id: vote.principalId, principal_name: vote.principal, decision: vote.decision, comment: vote.comment, at: new Date(vote.at) })
          .execute();
        if (request.status !== row.status) {
          await trx
            .updateTable('interlock.approvals')
            .set({ status: request.status, decided_at: request.decidedAt === null ? null : new Date(request.decidedAt) })
            .where('id', '=', id)
            .execute();
        }
      } else if (result.expire) {
        await trx.updateTable('interlock.approvals').set({ status: 'expired', decided_at: new Date(now) }).where('id', '=', id).where('status', '=', 'pending').execute();
      }
      await record?.(trx, before, result);
      return result;
    });
  }

  /**
   * Marks every pending request whose expiry is at or before `now` as `expired`, in one transaction
   * in which `record` then runs with the requests as they were before (to append their audit
   * entries): when it throws, none is expired and the error rejects. Returns their IDs.
   */
  async expireDue(now: number, record?: (trx: Transaction<Database>, expired: readonly ApprovalRequest[]) => Promise<void>): Promise<string[]> {
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx
        .updateTable('interlock.approvals')
        .set({ status: 'expired', decided_at: new Date(now) })
        .where('status', '=', 'pending')
        .where('expires_at', '<=', timestamptz(now))
        .returningAll()
        .execute();
      if (rows.length > 0 && record !== undefined) {
        const ordered = [...rows].sort((a, b) => a.expires_at - b.expires_at || (a.id < b.id ? -1 : 1));
        const expired: ApprovalRequest[] = [];
        for (const row of ordered) expired.push(await this.#withVotes(trx, { ...row, status: 'pending', decided_at: null }));
        await record(trx, expired);
      }
      return rows.map((row) => row.id);
    });
  }

  /**
   * Uses the grant of request `id` for `binding` at `now`, in one statement: `granted` → `consumed`
   * only when the binding's hash is the approved one and the request has not expired. When refused,
   * reads the request to say why; a grant refused for expiry is recorded `expired`.
   */
  async consume(id: string, binding: ApprovalBinding, now: number): Promise<ConsumeResult> {
    const hash = bindingHash(binding);
    if (UUID.test(id)) {
      const used = await this.#db
        .updateTable('interlock.approvals')
        .set({ status: 'consumed', consumed_at: new Date(now) })
        .where('id', '=', id)
        .where('status', '=', 'granted')
        .where('action_hash', '=', hash)
        .where('expires_at', '>', timestamptz(now))
        .returning('id')
        .executeTakeFirst();
      if (used !== undefined) return { ok: true };
    }
    const row = UUID.test(id) ? await this.#db.selectFrom('interlock.approvals').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
    if (row === undefined) return { ok: false, code: 'APPROVAL_NOT_FOUND', reason: `No approval request has ID ${id}.` };
    if (row.status === 'consumed') {
      return { ok: false, code: 'APPROVAL_ALREADY_CONSUMED', reason: `Approval ${id} was already used at ${new Date(row.consumed_at ?? now).toISOString()}; approvals are single use.` };
    }
    if (row.status === 'pending' || row.status === 'denied') {
      return { ok: false, code: 'APPROVAL_NOT_GRANTED', reason: `Approval ${id} is ${row.status}, not granted; nothing may run on it.` };
    }
    if (row.action_hash !== hash) {
      return {
        ok: false,
        code: 'APPROVAL_HASH_MISMATCH',
        reason: `The actions to run (hash ${hash}) are not the ones approved under approval ${id} (hash ${row.action_hash}): the actions or the policy changed after approval.`,
      };
    }
    if (row.status === 'granted') {
      await this.#db.updateTable('interlock.approvals').set({ status: 'expired' }).where('id', '=', id).where('status', '=', 'granted').execute();
    }
    return { ok: false, code: 'APPROVAL_EXPIRED', reason: `Approval ${id} expired at ${new Date(row.expires_at).toISOString()} before it was used.` };
  }

  /**
   * Claims the delivery of request `id`'s decision to its mission at `now`: true when this caller
   * must deliver it (it is decided, not yet delivered, and nobody claimed it within `leaseMs`).
   */
  async claimDelivery(id: string, now: number, leaseMs: number): Promise<boolean> {
    const claimed = await this.#db
      .updateTable('interlock.approvals')
      .set({ notify_claimed_at: new Date(now) })
      .where('id', '=', id)
      .where('status', 'in', ['granted', 'denied', 'expired'])
      .where('notified_at', 'is', null)
      .where((eb) => eb.or([eb('notify_claimed_at', 'is', null), eb('notify_claimed_at', '<=', timestamptz(now - leaseMs))]))
      .returning('id')
      .executeTakeFirst();
    return claimed !== undefined;
  }

  /** IDs of decided requests whose decision was not delivered and is not being delivered (claim older than `leaseMs`), oldest first. */
  async undelivered(now: number, leaseMs: number, limit = 100): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('interlock.approvals')
      .select('id')
      .where('notified_at', 'is', null)
      .where('status', 'in', ['granted', 'denied', 'expired'])
      .where((eb) => eb.or([eb('notify_claimed_at', 'is', null), eb('notify_claimed_at', '<=', timestamptz(now - leaseMs))]))
      .orderBy('decided_at')
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  /** Records that request `id`'s decision reached its mission (or need not: the mission had ended). */
  async markDelivered(id: string, now: number): Promise<void> {
    await this.#db.updateTable('interlock.approvals').set({ notified_at: new Date(now) }).where('id', '=', id).execute();
  }

  /** Gives up a delivery claim after a failed attempt, so the next sweep tries again at once. */
  async releaseDelivery(id: string): Promise<void> {
    await this.#db.updateTable('interlock.approvals').set({ notify_claimed_at: null }).where('id', '=', id).where('notified_at', 'is', null).execute();
  }

  async #withVotes(db: Kysely<Database> | Transaction<Database>, row: ApprovalRow): Promise<ApprovalRequest> {
    const votes = await db.selectFrom('interlock.approval_votes').selectAll().where('approval_id', '=', row.id).orderBy('at').orderBy('principal_name').execute();
    return toRequest(row, votes.map(toVote));
  }
}

function toVote(row: Selectable<Database['interlock.approval_votes']>): ApprovalVote {
  return { principal: row.principal_name, principalId: row.principal_id, decision: row.decision, comment: row.comment, at: row.at };
}

function toRequest(row: ApprovalRow, votes: ApprovalVote[]): ApprovalRequest {
  return {
    id: row.id,
    missionId: row.mission_id,
    project: row.project,
    requester: row.requester,
    actionHash: row.action_hash,
    binding: JSON.parse(row.binding) as ApprovalBinding,
    requirement: { quorum: row.quorum, groups: row.groups, expiresAt: row.expires_at },
    reasons: row.reasons,
    risk: row.risk,
    status: row.status,
    votes,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    consumedAt: row.consumed_at,
  };
}
