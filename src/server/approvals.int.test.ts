// The approvals module on the machine's PostgreSQL: requests, votes, single use and delivery of each
// decision to its mission, with several workers (module instances) on one database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, InterlockError } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { ApprovalBinding, ApprovalOutcome } from '../core/ports.js';
import { newMission } from '../../test/support/missions.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { PgApprovalStore, PgAuditLog, PgMissionStore, type DatabaseHandle } from '../store/index.js';
import { Approvals } from './approvals.js';

let testDb: MigratedTestDatabase;
let handle: DatabaseHandle;
let missions: PgMissionStore;
let clock = Date.UTC(2026, 0, 2, 3, 0, 0);
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  testDb = await createMigratedTestDatabase('server_approvals');
  handle = testDb.handle;
  missions = new PgMissionStore(handle.db);
});

afterAll(async () => {
  await testDb.close();
});

/** A module instance ("a worker") whose deliveries are recorded; `fail` makes the next N deliveries throw `failWith`. */
function worker(options: { fail?: number; failWith?: Error } = {}) {
  const delivered: Array<{ missionId: string; outcome: ApprovalOutcome }> = [];
  let failures = options.fail ?? 0;
  const approvals = new Approvals({
    store: new PgApprovalStore(handle.db),
    audit: new PgAuditLog(handle.db),
    logger: quiet,
    now: () => clock,
    deliveryLeaseMs: 60_000,
    notify: async (missionId, outcome) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (failures > 0) {
        failures -= 1;
        throw options.failWith ?? new Error('engine restarting');
      }
      delivered.push({ missionId, outcome });
    },
  });
  return { approvals, delivered };
}

let n = 0;
const person = (name: string, extra: Partial<Principal> = {}): Principal => ({ id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, kind: 'human', name, groups: ['change-board'], roles: { shop: ['approver'] }, ...extra });

async function mission(): Promise<string> {
  const { mission: created } = await missions.createMission(newMission({ project: 'shop', requester: 'alice' }));
  return created.id;
}

function bindingFor(missionId: string, amount = 7): ApprovalBinding {
  return {
    missionId,
    project: 'shop',
    policyDigest: 'd'.repeat(64),
    actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount }, target: { service: 'ledger', environment: 'production', tier: 'critical', labels: {} } }],
  };
}

async function open(approvals: Approvals, missionId: string, quorum = 1, expiresInMs = 600_000) {
  return approvals.request({
    binding: bindingFor(missionId),
    requester: 'alice',
    requirement: { quorum, groups: ['change-board'], expiresInMs },
    reasons: [{ rule: 'prod/write', effect: 'require_approval', message: 'production writes need the change board' }],
    risk: 'write-prod',
    now: clock,
  });
}

async function refusal(promise: Promise<unknown>): Promise<InterlockError> {
  const error: unknown = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(InterlockError);
  return error as InterlockError;
}

describe('request', () => {
  it('is idempotent per mission and binding hash; another binding opens another request', async () => {
    const { approvals } = worker();
    const id = await mission();
    const first = await open(approvals, id);
    expect(first.status).toBe('pending');
    expect(await open(approvals, id)).toEqual(first);
    const other = await approvals.request({ binding: bindingFor(id, 8), requester: 'alice', requirement: { quorum: 1, groups: [], expiresInMs: 1000 }, reasons: [], risk: 'write-prod', now: clock });
    expect(other.approvalId).not.toBe(first.approvalId);
    expect(other.actionHash).not.toBe(first.actionHash);
    const stored = await approvals.get(first.approvalId);
    expect(stored).toMatchObject({ status: 'pending', requester: 'alice', project: 'shop', binding: bindingFor(id), requirement: { quorum: 1, groups: ['change-board'], expiresAt: clock + 600_000 } });
    await approvals.vote(first.approvalId, person('bob'), { decision: 'deny', actionHash: first.actionHash });
    expect(await open(approvals, id)).toEqual({ ...first, status: 'denied' });
  });

  it('refuses a requirement without a positive quorum', async () => {
    const { approvals } = worker();
    const error = await refusal(approvals.request({ binding: bindingFor(await mission()), requester: 'alice', requirement: { quorum: 0, groups: [], expiresInMs: 1000 }, reasons: [], risk: 'write-prod', now: clock }));
    expect(error.code).toBe('INTERNAL');
  });
});

describe('consume', () => {
  async function granted() {
    const { approvals } = worker();
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id);
    await approvals.vote(approvalId, person('bob'), { decision: 'approve', actionHash });
    return { approvals, approvalId, binding: bindingFor(id) };
  }

  it('[GOV-APPROVAL-SINGLE-USE] uses a grant exactly once, even with ten consumers at the same instant on two workers', async () => {
    const { approvals, approvalId, binding } = await granted();
    const other = worker().approvals;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? approvals : other).consume(approvalId, binding, clock)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code))).toEqual(Array(9).fill('APPROVAL_ALREADY_CONSUMED'));
    expect(await approvals.get(approvalId)).toMatchObject({ status: 'consumed', consumedAt: clock });
  });

  it('refuses a binding whose arguments changed after approval, and still accepts the approved one', async () => {
    const { approvals, approvalId, binding } = await granted();
    const edited = { ...binding, actions: [{ ...binding.actions[0]!, args: { amount: 7000 } }] };
    const refused = await approvals.consume(approvalId, edited, clock);
    expect(refused).toMatchObject({ ok: false, code: 'APPROVAL_HASH_MISMATCH', reason: expect.stringContaining('changed after approval') });
    expect(await approvals.consume(approvalId, { ...binding, policyDigest: 'e'.repeat(64) }, clock)).toMatchObject({ ok: false, code: 'APPROVAL_HASH_MISMATCH' });
    expect(await approvals.consume(approvalId, binding, clock)).toEqual({ ok: true });
  });

  it('refuses a pending or denied request, an unknown one, and a grant past its expiry (recorded expired)', async () => {
    const { approvals } = worker();
    const id = await mission();
    const pending = await open(approvals, id, 2);
    expect(await approvals.consume(pending.approvalId, bindingFor(id), clock)).toMatchObject({ ok: false, code: 'APPROVAL_NOT_GRANTED' });
    await approvals.vote(pending.approvalId, person('bob'), { decision: 'deny', actionHash: pending.actionHash });
    expect(await approvals.consume(pending.approvalId, bindingFor(id), clock)).toMatchObject({ ok: false, code: 'APPROVAL_NOT_GRANTED', reason: expect.stringContaining('denied') });
    expect(await approvals.consume('6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11', bindingFor(id), clock)).toMatchObject({ ok: false, code: 'APPROVAL_NOT_FOUND' });

    const { approvalId, binding } = await granted();
    const late = await approvals.consume(approvalId, binding, clock + 600_000);
    expect(late).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED' });
    expect((await approvals.get(approvalId)).status).toBe('expired');
  });
});

describe('delivery of decisions', () => {
  it('two approvers voting at once on two workers grant a 2-of-N request once, and the mission is told once', async () => {
    const a = worker();
    const b = worker();
    const id = await mission();
    const { approvalId, actionHash } = await open(a.approvals, id, 2);
    const [bob, carol] = [person('bob'), person('carol')];
    await Promise.all([a.approvals.vote(approvalId, bob, { decision: 'approve', actionHash, comment: 'ok' }), b.approvals.vote(approvalId, carol, { decision: 'approve', actionHash })]);
    await Promise.all([a.approvals.sweep(), b.approvals.sweep()]);
    const request = await a.approvals.get(approvalId);
    expect(request.status).toBe('granted');
    expect(request.votes.map((v) => v.principal).sort()).toEqual(['bob', 'carol']);
    const delivered = [...a.delivered, ...b.delivered];
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ missionId: id, outcome: { approvalId, approved: true } });
    expect(delivered[0]?.outcome.by.split(', ').sort()).toEqual(['bob', 'carol']);
  });

  it('one approval of two keeps the request pending, tells nobody, and cannot be used', async () => {
    const { approvals, delivered } = worker();
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id, 2);
    const after = await approvals.vote(approvalId, person('bob'), { decision: 'approve', actionHash });
    expect(after.status).toBe('pending');
    await approvals.sweep();
    expect(delivered).toEqual([]);
    expect(await approvals.consume(approvalId, bindingFor(id), clock)).toMatchObject({ ok: false, code: 'APPROVAL_NOT_GRANTED' });
  });

  it('a deny tells the mission once, with who denied and why', async () => {
    const { approvals, delivered } = worker();
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id, 2);
    await approvals.vote(approvalId, person('bob'), { decision: 'deny', actionHash, comment: 'not during the sale' });
    await approvals.sweep();
    expect(delivered).toEqual([{ missionId: id, outcome: { approvalId, approved: false, by: 'bob', comment: 'bob: not during the sale' } }]);
  });

  it('expiry found by the sweeps of two workers at once is delivered once, by expiry', async () => {
    const a = worker();
    const b = worker();
    const id = await mission();
    const { approvalId } = await open(a.approvals, id, 1, 1000);
    clock += 1000;
    await Promise.all([a.approvals.sweep(), b.approvals.sweep(), a.approvals.sweep()]);
    await Promise.all([a.approvals.sweep(), b.approvals.sweep()]);
    expect((await a.approvals.get(approvalId)).status).toBe('expired');
    const delivered = [...a.delivered, ...b.delivered].filter((d) => d.missionId === id);
    expect(delivered).toEqual([{ missionId: id, outcome: { approvalId, approved: false, by: 'expiry', comment: expect.stringContaining('0 of 1 approvals') } }]);
  });

  it('a vote after expiry is refused APPROVAL_EXPIRED, and the expiry is recorded and delivered', async () => {
    const { approvals, delivered } = worker();
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id, 1, 1000);
    clock += 2000;
    const error = await refusal(approvals.vote(approvalId, person('bob'), { decision: 'approve', actionHash }));
    expect(error.code).toBe('APPROVAL_EXPIRED');
    expect(delivered.filter((d) => d.missionId === id)).toEqual([{ missionId: id, outcome: expect.objectContaining({ approvalId, approved: false, by: 'expiry' }) }]);
  });

  it('a delivery that fails is retried by the next sweep and then delivered once', async () => {
    const { approvals, delivered } = worker({ fail: 2 });
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id);
    await approvals.vote(approvalId, person('bob'), { decision: 'approve', actionHash });
    expect(delivered).toEqual([]);
    await approvals.sweep();
    expect(delivered).toEqual([]);
    await approvals.sweep();
    await approvals.sweep();
    expect(delivered).toEqual([{ missionId: id, outcome: expect.objectContaining({ approvalId, approved: true, by: 'bob' }) }]);
  });

  it('a mission that has already finished counts as told, and is not retried', async () => {
    const { approvals, delivered } = worker({ fail: 5, failWith: new InputError('MISSION_ALREADY_FINISHED', 'finished') });
    const id = await mission();
    const { approvalId, actionHash } = await open(approvals, id);
    await approvals.vote(approvalId, person('bob'), { decision: 'approve', actionHash });
    await approvals.sweep();
    const { rows } = await handle.pool.query<{ notified: boolean }>('select notified_at is not null as notified from interlock.approvals where id = $1', [approvalId]);
    expect(rows[0]?.notified).toBe(true);
    expect(delivered).toEqual([]);
  });
});
