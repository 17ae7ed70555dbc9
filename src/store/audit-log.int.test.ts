import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkAuditProof } from '../cli/commands/audit.js';
import { consistencyProof, encodeEntry, generateSigner, inclusionProof, leafHash, parseSignerKey, type AuditEntry } from '../core/audit/index.js';
import { encodeBase64 } from '../core/audit/base64.js';
import type { InterlockError } from '../core/errors.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { PgAuditLog } from './audit-log.js';
import { createDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest } from './migrate.js';

const ORIGIN = 'interlock/audit';
const signer = parseSignerKey(generateSigner(ORIGIN).signerKey);
const other = parseSignerKey(generateSigner(ORIGIN).signerKey);
const MISSION = randomUUID();

let testDb: TestDatabase;
let handles: DatabaseHandle[];
let log: PgAuditLog;
let db: DatabaseHandle['db'];

function connect(): DatabaseHandle {
  const handle = createDatabase({ url: testDb.url, poolSize: 3 });
  handles.push(handle);
  return handle;
}

function entry(i: number): AuditEntry {
  return { schemaVersion: 1, kind: 'tool.called', actor: 'engine', missionId: i % 2 === 0 ? MISSION : null, at: 1_700_000_000_000 + i, data: { i, tool: 'files.write' } };
}

function entries(from: number, count: number): AuditEntry[] {
  return Array.from({ length: count }, (_, k) => entry(from + k));
}

function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** Runs `statements` with the append-only trigger disabled, as a superuser attacker would. */
async function tamper(statements: (trx: typeof db) => Promise<void>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`alter table interlock.audit_entries disable trigger append_only`.execute(trx);
    await statements(trx);
    await sql`alter table interlock.audit_entries enable trigger append_only`.execute(trx);
  });
}

/** A row the attacker builds for `e` at `idx`: self-consistent bytes and leaf hash, chained to `previousChain`. */
function forgedRow(idx: number, e: AuditEntry, previousChain: Uint8Array) {
  const bytes = encodeEntry(e);
  const leaf = leafHash(bytes);
  return { idx, kind: e.kind, mission_id: e.missionId, actor: e.actor, at: new Date(e.at), entry: Buffer.from(bytes), leaf_hash: Buffer.from(leaf), chain_hash: sha256(previousChain, leaf), tool: typeof e.data.tool === 'string' ? e.data.tool : null };
}

async function chainAt(idx: number): Promise<Uint8Array> {
  const row = await db.selectFrom('interlock.audit_entries').select('chain_hash').where('idx', '=', idx).executeTakeFirstOrThrow();
  return row.chain_hash;
}

/** 20 entries with signed checkpoints at sizes 10 and 20. */
async function twoCheckpoints(): Promise<void> {
  await log.append(entries(0, 10));
  await log.checkpoint(signer, ORIGIN);
  await log.append(entries(10, 10));
  await log.checkpoint(signer, ORIGIN);
}

beforeEach(async () => {
  testDb = await createTestDatabase('store_audit');
  handles = [];
  db = connect().db;
  await migrateToLatest(db);
  log = new PgAuditLog(db);
});

afterEach(async () => {
  await Promise.all(handles.map((handle) => handle.close()));
  await testDb.drop();
});

describe('append', () => {
  it('gives appends from two connections one gap-free sequence 0..n-1, each batch consecutive', async () => {
    const a = new PgAuditLog(connect().db);
    const b = new PgAuditLog(connect().db);
    const calls = Array.from({ length: 20 }, (_, k) => (k % 2 === 0 ? a : b).append(entries(k * 5, 5)));
    const results = await Promise.all(calls);

    for (const indices of results) expect(indices).toEqual(Array.from({ length: 5 }, (_, k) => indices[0]! + k));
    expect(results.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, k) => k));
    expect(await log.size()).toBe(100);
    await log.checkpoint(signer, ORIGIN);
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: true, size: 100, checkpoints: 1 });
  });

  it('stores encodeEntry bytes and refuses entries it cannot store, appending nothing', async () => {
    expect(await log.append([entry(0)])).toEqual([0]);
    const row = await db.selectFrom('interlock.audit_entries').selectAll().executeTakeFirstOrThrow();
    expect(new Uint8Array(row.entry)).toEqual(encodeEntry(entry(0)));
    expect(new Uint8Array(row.leaf_hash)).toEqual(leafHash(encodeEntry(entry(0))));
    await expect(log.append([entry(1), { ...entry(2), missionId: 'not-a-uuid' }])).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID' });
    expect(await log.size()).toBe(1);
  });

  it('is append-only: the trigger refuses UPDATE and DELETE on entries and checkpoints', async () => {
    await log.append(entries(0, 2));
    await log.checkpoint(signer, ORIGIN);
    await expect(sql`update interlock.audit_entries set actor = 'mallory' where idx = 0`.execute(db)).rejects.toThrow(/append-only: UPDATE/);
    await expect(sql`delete from interlock.audit_entries where idx = 1`.execute(db)).rejects.toThrow(/append-only: DELETE/);
    await expect(sql`delete from interlock.audit_checkpoints`.execute(db)).rejects.toThrow(/append-only: DELETE/);
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: true, size: 2, checkpoints: 1 });
  });
});

describe('checkpoint', () => {
  it('signs a C2SP checkpoint of the current size, once per size', async () => {
    const empty = await log.checkpoint(signer, ORIGIN);
    expect(empty).toMatchObject({ size: 0, created: true });
    await log.append(entries(0, 3));
    const first = await log.checkpoint(signer, ORIGIN);
    expect(first.created).toBe(true);
    expect(first.note).toMatch(/^interlock\/audit\n3\n[A-Za-z0-9+/]{43}=\n\n\u2014 interlock\/audit [A-Za-z0-9+/=]+\n$/);
    expect(await log.checkpoint(signer, ORIGIN)).toEqual({ ...first, created: false });
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: true, size: 3, checkpoints: 2 });
  });

  it('refuses to sign a log that fails its checks (AUDIT_TAMPERED)', async () => {
    await log.append(entries(0, 3));
    await tamper((trx) => sql`delete from interlock.audit_entries where idx = 1`.execute(trx).then(() => undefined));
    const error = (await log.checkpoint(signer, ORIGIN).catch((caught: unknown) => caught)) as InterlockError;
    expect(error).toMatchObject({ code: 'AUDIT_TAMPERED', details: { firstBadIndex: 1 } });
    expect(await log.latestCheckpoint()).toBeUndefined();
  });
});

describe('verify finds tampering by someone who disabled the trigger', () => {
  beforeEach(twoCheckpoints);

  it('an intact log verifies', async () => {
    const progress: number[] = [];
    expect(await log.verify(signer.verifierKey, (n) => progress.push(n))).toEqual({ ok: true, size: 20, checkpoints: 2 });
    expect(progress).toEqual([20]);
  });

  it('UPDATE of one entry: exactly that index', async () => {
    await tamper((trx) => sql`update interlock.audit_entries set entry = convert_to(replace(convert_from(entry, 'UTF8'), 'files.write', 'files.read'), 'UTF8') where idx = 7`.execute(trx).then(() => undefined));
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: false, firstBadIndex: 7, reason: 'its bytes do not match its leaf hash: the entry was rewritten' });
  });

  it('UPDATE of a query column only: exactly that index', async () => {
    await tamper((trx) => sql`update interlock.audit_entries set actor = 'someone-else' where idx = 12`.execute(trx).then(() => undefined));
    expect(await log.verify(signer.verifierKey)).toMatchObject({ ok: false, firstBadIndex: 12, reason: expect.stringContaining('actor column disagrees') });
  });

  it('DELETE of one entry: exactly that index (a gap)', async () => {
    await tamper((trx) => sql`delete from interlock.audit_entries where idx = 7`.execute(trx).then(() => undefined));
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: false, firstBadIndex: 7, reason: 'entry 7 is missing (the next stored entry is 8): it was deleted' });
  });

  it('DELETE with renumbering: exactly that index', async () => {
    await tamper(async (trx) => {
      await sql`delete from interlock.audit_entries where idx = 7`.execute(trx);
      await sql`update interlock.audit_entries set idx = idx + 999 where idx > 7`.execute(trx);
      await sql`update interlock.audit_entries set idx = idx - 1000 where idx > 999`.execute(trx);
    });
    expect(await log.verify(signer.verifierKey)).toMatchObject({ ok: false, firstBadIndex: 7, reason: expect.stringContaining('does not follow entry 6') });
  });

  it('DELETE of the tail below a checkpoint: the first missing index', async () => {
    await tamper((trx) => sql`delete from interlock.audit_entries where idx >= 15`.execute(trx).then(() => undefined));
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: false, firstBadIndex: 15, reason: 'a checkpoint covers 20 entries but the log holds 15: entries from 15 on were deleted' });
  });

  it('INSERT in the middle (renumbering the rest), chained to its predecessor: exactly the inserted index', async () => {
    const previous = await chainAt(4);
    await tamper(async (trx) => {
      await sql`update interlock.audit_entries set idx = idx + 1000 where idx >= 5`.execute(trx);
      await sql`update interlock.audit_entries set idx = idx - 999 where idx >= 1000`.execute(trx);
      await trx.insertInto('interlock.audit_entries').values(forgedRow(5, { ...entry(5), actor: 'mallory', data: { forged: true } }, previous)).execute();
    });
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: false, firstBadIndex: 5, reason: 'entry 6 links to entry 4, not to entry 5: entry 5 was inserted and the later entries renumbered' });
  });

  it('swap of two rows: the lower index', async () => {
    await tamper(async (trx) => {
      await sql`update interlock.audit_entries set idx = 1000 where idx = 3`.execute(trx);
      await sql`update interlock.audit_entries set idx = 3 where idx = 7`.execute(trx);
      await sql`update interlock.audit_entries set idx = 7 where idx = 1000`.execute(trx);
    });
    expect(await log.verify(signer.verifierKey)).toMatchObject({ ok: false, firstBadIndex: 3, reason: expect.stringContaining('does not follow entry 2 in the hash chain') });
  });

  it('swap of two entries with every hash recomputed: the range since the last matching checkpoint', async () => {
    // The attacker swaps entries 13 and 17 and rewrites leaf and chain hashes from 13 to the end, so
    // every row is self-consistent; only the signed checkpoint of size 20 can tell.
    const rows = await db.selectFrom('interlock.audit_entries').selectAll().where('idx', '>=', 13).orderBy('idx').execute();
    const order = rows.map((row) => row.entry);
    [order[0], order[4]] = [order[4]!, order[0]!];
    await tamper(async (trx) => {
      let chain = await chainAt(12);
      for (let k = 0; k < order.length; k++) {
        const e = JSON.parse(order[k]!.toString('utf8')) as AuditEntry;
        const row = forgedRow(13 + k, e, chain);
        chain = row.chain_hash;
        await trx.updateTable('interlock.audit_entries').set({ kind: row.kind, mission_id: row.mission_id, actor: row.actor, at: row.at, entry: row.entry, leaf_hash: row.leaf_hash, chain_hash: row.chain_hash }).where('idx', '=', 13 + k).execute();
      }
    });
    expect(await log.verify(signer.verifierKey)).toEqual({
      ok: false,
      firstBadIndex: 10,
      reason: 'the root of the first 20 entries differs from the root signed in the checkpoint of size 20: entries 10..19 differ from what was signed (an entry in that range was changed, inserted, removed or moved, and its hashes rewritten to hide it)',
    });
  });

  it('a checkpoint not signed by the given key: the range it should cover', async () => {
    expect(await log.verify(other.verifierKey)).toMatchObject({ ok: false, firstBadIndex: 0, reason: expect.stringContaining('the checkpoint of size 10 is not signed by the given key') });
  });

  it('a forged checkpoint row (valid note of another size, or another key): named', async () => {
    await sql`alter table interlock.audit_checkpoints disable trigger append_only`.execute(db);
    const forged = await log.latestCheckpoint();
    await sql`update interlock.audit_checkpoints set note = ${forged!.note} where size = 10`.execute(db);
    expect(await log.verify(signer.verifierKey)).toMatchObject({ ok: false, firstBadIndex: 0, reason: expect.stringContaining('the checkpoint stored for size 10 is signed for size 20') });
  });
});

describe('proof', () => {
  it('round-trips through the standalone check, and fails against another key or a changed entry', async () => {
    await twoCheckpoints();
    await log.append(entries(20, 3)); // not yet covered by a checkpoint
    const latest = await log.latestCheckpoint();
    for (const index of [0, 7, 13, 19]) {
      const proof = await log.proof(index);
      expect(proof).toMatchObject({ index, size: 20, checkpoint: latest!.note });
      expect(proof.entry).toEqual(encodeEntry(entry(index)));
      const file = { checkpoint: proof.checkpoint, index, size: proof.size, entry: encodeBase64(proof.entry), leafHash: encodeBase64(proof.leafHash), proof: proof.proof.map(encodeBase64) };
      expect(checkAuditProof(signer.verifierKey, latest!.note, file)).toEqual({ ok: true, origin: ORIGIN, index, size: 20 });
      expect(checkAuditProof(signer.verifierKey, latest!.note, { ...file, index: (index + 1) % 20 })).toMatchObject({ ok: false });
    }
    const proof = await log.proof(3);
    const file = { checkpoint: proof.checkpoint, index: 3, size: 20, leafHash: encodeBase64(proof.leafHash), proof: proof.proof.map(encodeBase64) };

    // The same tree signed by another key: the check trusts only the given key.
    const foreign = (await new PgAuditLog(db).latestCheckpoint())!.note.split('\n\n')[0]!;
    const { signNote } = await import('../core/audit/index.js');
    const otherNote = signNote(`${foreign}\n`, other);
    expect(checkAuditProof(signer.verifierKey, otherNote, file)).toMatchObject({ ok: false, reason: expect.stringContaining('not signed by the given key') });
    expect(checkAuditProof(other.verifierKey, otherNote, file)).toMatchObject({ ok: true });
    expect(checkAuditProof(signer.verifierKey, latest!.note, { ...file, entry: encodeBase64(encodeEntry(entry(4))) })).toMatchObject({ ok: false, reason: "the proof file's entry does not hash to its leafHash" });

    await expect(log.proof(21)).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_MISSING' });
    await expect(log.proof(23)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE' });
  });
});

describe('stored subtree nodes', () => {
  it('serve inclusion and consistency proofs equal to the in-memory ones, for appends in any batch sizes', async () => {
    const sizes = [1, 15, 1, 240, 3, 300, 17, 500];
    const checkpoints: number[] = [];
    let from = 0;
    for (const count of sizes) {
      await log.append(entries(from, count));
      from += count;
      checkpoints.push((await log.checkpoint(signer, ORIGIN)).size);
    }
    const leaves = entries(0, from).map((e) => leafHash(encodeEntry(e)));
    const nodes = await db.selectFrom('interlock.audit_tree_nodes').select(['level', 'idx']).orderBy('level').orderBy('idx').execute();
    expect(nodes.filter((n) => n.level === 4)).toHaveLength(Math.floor(from / 16));
    expect(nodes.filter((n) => n.level === 8)).toHaveLength(Math.floor(from / 256));
    for (const index of [0, 1, 16, 255, 256, 700, from - 1]) {
      expect((await log.proof(index)).proof).toEqual(inclusionProof(index, leaves));
      expect((await log.proof(index, 1077)).proof).toEqual(inclusionProof(index, leaves.slice(0, 1077)));
    }
    for (const m of checkpoints.slice(1)) {
      const proof = await log.consistencyProof(m);
      expect(proof).toMatchObject({ fromSize: m, toSize: from });
      expect(proof.proof).toEqual(consistencyProof(m, leaves));
    }
    expect((await log.consistencyProof(16, 257)).proof).toEqual(consistencyProof(16, leaves.slice(0, 257)));
    await expect(log.consistencyProof(18)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE', issues: [{ path: 'from' }] });
    await expect(log.proof(0, 5)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE', issues: [{ path: 'size' }] });
    expect(await log.verify(signer.verifierKey)).toEqual({ ok: true, size: from, checkpoints: sizes.length });
  });

  it('an incremental checkpoint checks the new entries and refuses another key (AUDIT_KEY_MISMATCH)', async () => {
    await log.append(entries(0, 40));
    await log.checkpoint(signer, ORIGIN);
    await log.append(entries(40, 5));
    await expect(log.checkpoint(other, ORIGIN)).rejects.toMatchObject({ code: 'AUDIT_KEY_MISMATCH', details: { checkpointSize: 40 } });
    await tamper((trx) => sql`update interlock.audit_entries set actor = 'mallory' where idx = 42`.execute(trx).then(() => undefined));
    await expect(log.checkpoint(signer, ORIGIN)).rejects.toMatchObject({ code: 'AUDIT_TAMPERED', details: { firstBadIndex: 42 } });
    expect((await log.latestCheckpoint())!.size).toBe(40);
  });

  it('an incremental checkpoint refuses a stored tree that does not fold to the signed root', async () => {
    await log.append(entries(0, 40));
    await log.checkpoint(signer, ORIGIN);
    await log.append(entries(40, 1));
    await db.transaction().execute(async (trx) => {
      await sql`alter table interlock.audit_tree_nodes disable trigger append_only`.execute(trx);
      await sql`update interlock.audit_tree_nodes set hash = ${Buffer.alloc(32)} where level = 4 and idx = 1`.execute(trx);
      await sql`alter table interlock.audit_tree_nodes enable trigger append_only`.execute(trx);
    });
    await expect(log.checkpoint(signer, ORIGIN)).rejects.toMatchObject({ code: 'AUDIT_TAMPERED', details: { firstBadIndex: 0 } });
    // A proof from the bad node fails its own check instead of reaching a client.
    await expect(log.proof(3)).rejects.toMatchObject({ code: 'AUDIT_TAMPERED' });
  });
});

describe('query', () => {
  it('filters by mission, actor, tool, kind and time, in pages', async () => {
    const other = randomUUID();
    await log.append([
      { schemaVersion: 1, kind: 'plan.proposed', actor: 'alice', missionId: MISSION, at: 1000, data: {} },
      { schemaVersion: 1, kind: 'tool.called', actor: 'interlock-engine', missionId: MISSION, at: 2000, data: { tool: 'files.write' } },
      { schemaVersion: 1, kind: 'tool.called', actor: 'interlock-engine', missionId: other, at: 3000, data: { tool: 'files.delete' } },
      { schemaVersion: 1, kind: 'kill_switch.changed', actor: 'bob', missionId: null, at: 4000, data: { scope: 'global' } },
    ]);
    const indices = async (q: Parameters<PgAuditLog['query']>[0]) => (await log.query(q)).entries.map((r) => r.index);
    expect(await indices({ missionId: MISSION.toUpperCase() })).toEqual([0, 1]);
    expect(await indices({ actor: 'interlock-engine' })).toEqual([1, 2]);
    expect(await indices({ tool: 'files.delete' })).toEqual([2]);
    expect(await indices({ kinds: ['plan.proposed', 'kill_switch.changed'] })).toEqual([0, 3]);
    expect(await indices({ since: 2000, until: 4000 })).toEqual([1, 2]);
    const first = await log.query({ limit: 3 });
    expect(first.entries.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(first.next).toBe(2);
    expect(first.entries[1]!.entry).toEqual({ schemaVersion: 1, kind: 'tool.called', actor: 'interlock-engine', missionId: MISSION, at: 2000, data: { tool: 'files.write' } });
    expect(await log.query({ after: first.next!, limit: 3 })).toMatchObject({ entries: [{ index: 3 }], next: null });
    await expect(log.query({ limit: 0, missionId: 'x', kinds: ['nope' as never] })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      issues: [{ path: 'limit' }, { path: 'mission' }, { path: 'kind' }],
    });
  });
});
