import { approvalOutcome, castVote, type ApprovalRequest, type ApprovalStatus, type VoteInput, type VoteRefusalCode, type VoteResult } from '../core/approvals/approval.js';
import type { AuditEntry } from '../core/audit/entry.js';
import { AccessError, InputError, InterlockError, InternalError, isInterlockError } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { ApprovalBinding, ApprovalFilter, ApprovalGate, ApprovalRequestInput, ApprovalOutcome, ApprovalService, ConsumeRefusalCode } from '../core/ports.js';
import type { PgApprovalStore, PgAuditLog } from '../store/index.js';

/** The minimal logger approvals write to (pino's `Logger` fits). */
export interface ApprovalsLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link Approvals}. */
export interface ApprovalsOptions {
  readonly store: PgApprovalStore;
  /**
   * The audit log: every vote (counted or refused) and every decision is appended to it in the
   * transaction that stores it, so none is stored without its entry.
   */
  readonly audit: Pick<PgAuditLog, 'appendIn'>;
  /**
   * Tells a mission its approval request was decided (granted, denied or expired); `main.ts` passes
   * the engine's `deliverReview`. Called once per decided request (see {@link Approvals}). A rejection
   * with `MISSION_ALREADY_FINISHED` or `MISSION_NOT_FOUND` counts as delivered (nobody waits any more);
   * any other rejection is retried by the next sweep.
   */
  readonly notify: (missionId: string, outcome: ApprovalOutcome) => Promise<void>;
  readonly logger: ApprovalsLogger;
  /** Clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** How often pending requests past their expiry are expired and undelivered decisions retried, ms. @default 5000 */
  readonly sweepIntervalMs?: number;
  /** How long a delivery claimed by one worker is left to it before another may retry it, ms. @default 60000 */
  readonly deliveryLeaseMs?: number;
}

/** Errors of `notify` after which there is nobody left to tell: the delivery is done. */
const FINAL_DELIVERY_CODES: ReadonlySet<string> = new Set(['MISSION_ALREADY_FINISHED', 'MISSION_NOT_FOUND']);

/** The actor of the entries of what the approvals module does by itself (expiring requests). */
const APPROVALS_ACTOR = 'interlock-approvals';

/** Refusals of a vote that are about who the voter is (403); the others are about the request's state (404/409). */
const ACCESS_REFUSALS: ReadonlySet<VoteRefusalCode> = new Set(['FORBIDDEN', 'APPROVAL_AGENT_VOTE', 'APPROVAL_SELF_APPROVAL', 'APPROVAL_GROUP_REQUIRED']);

/**
 * The approvals module: the {@link ApprovalGate} the engine uses (open a request, use a grant once)
 * and the {@link ApprovalService} the HTTP API uses (list, show, vote), on {@link PgApprovalStore}.
 *
 * Audit: every vote (counted or refused) and every decision (granted, denied, expired) is appended
 * to the audit log in the same transaction as the change it records (fail closed).
 *
 * Delivery: when a request becomes granted or denied (by a vote) or expired (by a vote, a read or
 * the periodic sweep), the worker that decided it claims the delivery in the database and calls
 * `notify(missionId, outcome)`; the claim makes the call happen once across all workers. If `notify`
 * fails (the engine is restarting), the claim is released and the sweep retries; if the process dies
 * between claim and delivery, another worker retries after `deliveryLeaseMs`. So a decision is
 * delivered once, and at worst again after a crash in the middle of delivering it.
 */
export class Approvals implements ApprovalGate, ApprovalService {
  readonly #store: PgApprovalStore;
  readonly #audit: Pick<PgAuditLog, 'appendIn'>;
  readonly #notify: (missionId: string, outcome: ApprovalOutcome) => Promise<void>;
  readonly #logger: ApprovalsLogger;
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(options: ApprovalsOptions) {
    this.#store = options.store;
    this.#audit = options.audit;
    this.#notify = options.notify;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5000;
    this.#leaseMs = options.deliveryLeaseMs ?? 60_000;
  }

  /** Starts the periodic sweep (expiry and delivery retries). Safe to call more than once. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sweep(), this.#sweepIntervalMs);
    this.#timer.unref();
  }

  /** Stops the sweep and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /**
   * Expires pending requests past their expiry and delivers every decided request whose decision has
   * not reached its mission. Runs one at a time; never throws (failures are logged and retried).
   */
  sweep(): Promise<void> {
    this.#sweeping ??= (async () => {
      try {
        const now = this.#now();
        await this.#expireDue(now).catch((error: unknown) => this.#logger.warn({ err: error }, 'could not expire approval requests (nothing expired); retrying at the next sweep'));
        for (const id of await this.#store.undelivered(now, this.#leaseMs)) await this.#deliver(id);
      } catch (error) {
        this.#logger.warn({ err: error }, 'approval sweep failed; retrying at the next one');
      } finally {
        this.#sweeping = undefined;
      }
    })();
    return this.#sweeping;
  }

  /**
   * Opens an approval request for `input.binding` (expiring `requirement.expiresInMs` after `now`),
   * or returns the one already open for the same mission and binding hash (a replayed step), with its
   * current status.
   * @throws InternalError `INTERNAL` for a requirement without a positive integer quorum or expiry,
   *   a binding that is not JSON, or a mission that does not exist.
   */
  async request(input: ApprovalRequestInput): Promise<{ readonly approvalId: string; readonly actionHash: string; readonly status: ApprovalStatus }> {
    const { quorum, groups, expiresInMs } = input.requirement;
    if (!Number.isSafeInteger(quorum) || quorum < 1 || !Number.isFinite(expiresInMs) || expiresInMs <= 0) {
      throw new InternalError(`Invalid approval requirement (quorum ${quorum}, expiresInMs ${expiresInMs}); the quorum must be an integer >= 1 and the expiry positive.`);
    }
    const { request, created } = await this.#store.create({
      binding: input.binding,
      requester: input.requester,
      quorum,
      groups,
      expiresAt: input.now + expiresInMs,
      reasons: input.reasons,
      risk: input.risk,
      at: input.now,
    });
    if (created) this.#logger.info({ approvalId: request.id, missionId: request.missionId, actionHash: request.actionHash }, 'approval requested');
    return { approvalId: request.id, actionHash: request.actionHash, status: request.status };
  }

  /** Uses a grant once; see {@link ApprovalGate.consume}. Never throws for a refusal. */
  async consume(approvalId: string, binding: ApprovalBinding, now: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string; readonly code: ConsumeRefusalCode }> {
    const result = await this.#store.consume(approvalId, binding, now);
    if (!result.ok) this.#logger.info({ approvalId, code: result.code }, `approval not usable: ${result.reason}`);
    return result;
  }

  /** Requests matching `filter`, newest first; pending requests past their expiry are expired first. */
  async list(filter: ApprovalFilter): Promise<ApprovalRequest[]> {
    await this.#expireAndDeliver();
    return this.#store.list(filter);
  }

  /**
   * The request with ID `id`; a pending one past its expiry is expired (and its mission told) first.
   * @throws InputError `APPROVAL_NOT_FOUND`.
   */
  async get(id: string): Promise<ApprovalRequest> {
    let request = await this.#store.get(id);
    if (request?.status === 'pending' && this.#now() >= request.requirement.expiresAt) {
      await this.#expireAndDeliver();
      request = await this.#store.get(id);
    }
    if (request === undefined) throw notFound(id);
    return request;
  }

  /**
   * Casts `voter`'s vote on request `id` under the rules of `castVote`, and delivers the decision
   * when the vote decided the request. The vote, counted or refused, is recorded in the audit log
   * (`approval.voted`, and `approval.decided` when it decided the request) in the transaction that
   * stores it: without its entries, nothing of the vote is stored.
   * @throws InterlockError `AUDIT_UNAVAILABLE` when the audit log cannot record the vote (it is not counted).
   * @throws InputError `APPROVAL_NOT_FOUND`, `APPROVAL_NOT_PENDING`, `APPROVAL_EXPIRED`,
   *   `APPROVAL_ALREADY_VOTED`, `APPROVAL_HASH_MISMATCH`.
   * @throws AccessError `FORBIDDEN` (no `approvals:decide` in the project), `APPROVAL_AGENT_VOTE`,
   *   `APPROVAL_SELF_APPROVAL`, `APPROVAL_GROUP_REQUIRED`.
   */
  async vote(id: string, voter: Principal, input: VoteInput): Promise<ApprovalRequest> {
    const now = this.#now();
    const result = await this.#store.vote(id, now, (request) => castVote(request, voter, input, now), async (trx, before, cast) => {
      await this.#audit.appendIn(trx, voteEntries(before, voter, input, cast, now)).catch((error: unknown) => {
        throw new InterlockError('AUDIT_UNAVAILABLE', 'The audit log could not record this vote, so it was not counted; try again shortly.', { cause: error, details: { approvalId: id } });
      });
    });
    if (result === undefined) throw notFound(id);
    if (!result.ok) {
      if (result.expire) await this.#deliver(id);
      const details: Record<string, unknown> = { approvalId: id, principal: voter.name };
      if (result.code === 'FORBIDDEN') {
        const request = await this.#store.get(id);
        Object.assign(details, { permission: 'approvals:decide', project: request?.project });
      }
      if (result.code === 'APPROVAL_GROUP_REQUIRED') {
        const request = await this.#store.get(id);
        Object.assign(details, { groups: request?.requirement.groups ?? [] });
      }
      if (result.code === 'APPROVAL_NOT_PENDING') {
        const request = await this.#store.get(id);
        Object.assign(details, { status: request?.status });
      }
      this.#logger.info({ approvalId: id, principal: voter.name, code: result.code }, 'vote refused');
      throw ACCESS_REFUSALS.has(result.code)
        ? new AccessError(result.code as 'FORBIDDEN', result.reason, { details })
        : new InputError(result.code, result.reason, [], { details });
    }
    this.#logger.info({ approvalId: id, principal: voter.name, decision: result.vote.decision, status: result.request.status }, 'vote recorded');
    if (result.decided) await this.#deliver(id);
    return result.request;
  }

  /** Expires pending requests past their expiry, recording each decision in the same transaction; returns their IDs. */
  async #expireDue(now: number): Promise<string[]> {
    const ids = await this.#store.expireDue(now, async (trx, expired) => {
      await this.#audit.appendIn(trx, expired.map((request) => decidedEntry({ ...request, status: 'expired', decidedAt: now }, APPROVALS_ACTOR, now)));
    });
    for (const id of ids) this.#logger.info({ approvalId: id }, 'approval request expired');
    return ids;
  }

  /** Expires what is due and delivers it; when the expiry cannot be recorded, nothing expires now (the sweep retries) and reading goes on. */
  async #expireAndDeliver(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.#expireDue(this.#now());
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not expire approval requests (nothing expired); the sweep retries');
      return;
    }
    for (const id of ids) await this.#deliver(id);
  }

  /** Delivers request `id`'s decision to its mission if this caller wins the delivery claim. Never throws. */
  async #deliver(id: string): Promise<void> {
    try {
      if (!(await this.#store.claimDelivery(id, this.#now(), this.#leaseMs))) return;
      const request = await this.#store.get(id);
      const outcome = request === undefined ? undefined : approvalOutcome(request);
      if (request === undefined || outcome === undefined) return;
      try {
        await this.#notify(request.missionId, outcome);
      } catch (error) {
        if (!(isInterlockError(error) && FINAL_DELIVERY_CODES.has(error.code))) {
          await this.#store.releaseDelivery(id);
          throw error;
        }
        this.#logger.info({ approvalId: id, missionId: request.missionId, code: error.code }, 'approval decided, but its mission no longer waits for it');
      }
      await this.#store.markDelivered(id, this.#now());
    } catch (error) {
      this.#logger.warn({ err: error, approvalId: id }, 'could not deliver an approval decision to its mission; the sweep retries');
    }
  }
}

function notFound(id: string): InputError {
  return new InputError('APPROVAL_NOT_FOUND', `No approval request has ID ${id}; list them with GET /v1/approvals or \`interlock approvals list\`.`, [], { details: { id } });
}

/** The voter as the audit records them: principal ID, name and kind. */
function voterOf(principal: Principal): { id: string; name: string; kind: Principal['kind'] } {
  return { id: principal.id, name: principal.name, kind: principal.kind };
}

/**
 * The audit entries of one vote on `before` (the request as the vote found it): `approval.voted`,
 * counted or refused (with the refusal's code and reason), and `approval.decided` when the vote
 * decided the request (granted or denied) or found it expired.
 */
function voteEntries(before: ApprovalRequest, voter: Principal, input: VoteInput, result: VoteResult, now: number): AuditEntry[] {
  const voted: AuditEntry = {
    schemaVersion: 1,
    kind: 'approval.voted',
    actor: voter.name,
    missionId: before.missionId,
    at: now,
    data: {
      approvalId: before.id,
      actionHash: before.actionHash,
      voter: voterOf(voter),
      decision: input.decision,
      comment: input.comment ?? null,
      counted: result.ok,
      ...(result.ok
        ? { status: result.request.status, approvals: result.request.votes.filter((vote) => vote.decision === 'approve').length, quorum: before.requirement.quorum }
        : { code: result.code, reason: result.reason, ...(input.actionHash === before.actionHash ? {} : { presentedActionHash: input.actionHash }) }),
    },
  };
  if (result.ok) return result.decided ? [voted, decidedEntry(result.request, voter.name, now)] : [voted];
  return result.expire ? [voted, decidedEntry({ ...before, status: 'expired', decidedAt: now }, APPROVALS_ACTOR, now)] : [voted];
}

/** The `approval.decided` entry of `request`, now granted, denied or expired: by whom (names, or `expiry`), with the comments. */
function decidedEntry(request: ApprovalRequest, actor: string, now: number): AuditEntry {
  const outcome = approvalOutcome(request);
  return {
    schemaVersion: 1,
    kind: 'approval.decided',
    actor,
    missionId: request.missionId,
    at: now,
    data: {
      approvalId: request.id,
      actionHash: request.actionHash,
      status: request.status,
      by: outcome?.by ?? actor,
      comment: outcome?.comment ?? null,
      approvals: request.votes.filter((vote) => vote.decision === 'approve').length,
      quorum: request.requirement.quorum,
    },
  };
}
