import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { MerkleAccumulator, emptyRoot, leafHash } from '../core/audit/merkle.js';
import { encodeEntry, type AuditEntry } from '../core/audit/entry.js';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../core/audit/checkpoint.js';
import { parseNote, parseVerifierKey, signNote, verifyNote, type NoteSigner, type NoteVerifier } from '../core/audit/signed-note.js';
import { InputError, InternalError } from '../core/errors.js';
import type { AuditLog } from '../core/ports.js';
import type { Database } from './schema.js';

/** Advisory lock key serialising appends to the audit log across processes ("ILAU"). */
const AUDIT_APPEND_LOCK = 0x494c4155;
/** Rows read per query when streaming the log. */
const BATCH = 10_000;
/** Rows written per INSERT (8 parameters each, well under PostgreSQL's 65,535). */
const INSERT_CHUNK = 1_000;
/** The chain hash "before" index 0. */
const CHAIN_START = new Uint8Array(32);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A stored checkpoint: the tree size, its root, and the signed note that commits to both. */
export interface AuditCheckpointRecord {
  /** Tree size in leaves. */
  readonly size: number;
  /** 32 bytes. */
  readonly rootHash: Uint8Array;
  /** The signed note (c2sp.org/signed-note) whose text is the C2SP checkpoint. */
  readonly note: string;
  /** When it was made, ms since the epoch. */
  readonly createdAt: number;
}

/** What {@link PgAuditLog.checkpoint} did: the checkpoint of the current size, and whether it is new. */
export interface AuditCheckpointResult extends AuditCheckpointRecord {
  /** False when a checkpoint of this size existed already (it is returned unchanged). */
  readonly created: boolean;
}

/** An inclusion proof of one entry against the latest checkpoint; check it with `verifyInclusion`. */
export interface AuditProof {
  /** The signed checkpoint note the proof is against; its size and root are what the proof reaches. */
  readonly checkpoint: string;
  /** 0-based leaf index of the entry. */
  readonly index: number;
  /** Tree size of the checkpoint. */
  readonly size: number;
  /** The entry's bytes (`encodeEntry`), so an auditor sees what is proven. */
  readonly entry: Uint8Array;
  /** `leafHash(entry)`, 32 bytes. */
  readonly leafHash: Uint8Array;
  /** The audit path, 32-byte hashes from the leaf's level upwards (RFC 9162 §2.1.3.1). */
  readonly proof: readonly Uint8Array[];
}

/**
 * The outcome of {@link PgAuditLog.verify}: intact (with the size and the number of signed checkpoints
 * checked), or tampered, naming the first index that is not what was appended and why.
 */
export type AuditVerification =
  | { readonly ok: true; readonly size: number; readonly checkpoints: number }
  | { readonly ok: false; readonly firstBadIndex: number; readonly reason: string };

type Scan = { readonly ok: true; readonly size: number; readonly root: Uint8Array; readonly checkpoints: number } | { readonly ok: false; readonly firstBadIndex: number; readonly reason: string };

type CheckpointRow = { size: number; root_hash: Buffer; note: string; created_at: number };

function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** The chain hash of a row: SHA-256(previous row's chain hash || this row's leaf hash). */
function chainHash(previous: Uint8Array, leaf: Uint8Array): Uint8Array {
  return sha256(previous, leaf);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function toRecord(row: CheckpointRow): AuditCheckpointRecord {
  return { size: row.size, rootHash: new Uint8Array(row.root_hash), note: row.note, createdAt: row.created_at };
}

/** Why the row's query columns disagree with its entry bytes, or undefined when they agree. */
function columnMismatch(row: { kind: string; actor: string; mission_id: string | null; at: number; entry: Buffer }): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.entry.toString('utf8'));
  } catch {
    return 'its entry bytes are not JSON';
  }
  const entry = parsed as Partial<Record<keyof AuditEntry, unknown>>;
  const differs = [
    entry.kind !== row.kind && 'kind',
    entry.actor !== row.actor && 'actor',
    (typeof entry.missionId === 'string' ? entry.missionId.toLowerCase() : entry.missionId) !== row.mission_id && 'mission_id',
    entry.at !== row.at && 'at',
  ].filter((field): field is string => field !== false);
  return differs.length === 0 ? undefined : `its ${differs.join(', ')} column${differs.length === 1 ? '' : 's'} disagree${differs.length === 1 ? 's' : ''} with its entry bytes`;
}

/** The ranges [start, end) whose subtree roots make up PATH(index, D[size]), from the leaf's level upwards. */
function proofRanges(index: number, size: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  let m = index;
  let start = 0;
  let end = size;
  while (end - start > 1) {
    let k = 1;
    while (k * 2 < end - start) k *= 2;
    if (m < k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      m -= k;
    }
  }
  return ranges.reverse();
}

/**
 * The audit log on PostgreSQL (tables `audit_entries` and `audit_checkpoints`, append-only by
 * trigger): the leaves of an RFC 6962 Merkle tree, C2SP checkpoints signed with Ed25519, inclusion
 * proofs, and a verification that finds tampering by someone who bypassed the trigger.
 *
 * Each row stores the entry's bytes (`encodeEntry`), their leaf hash, and a chain hash
 * SHA-256(previous chain hash || leaf hash) that binds the row to its position; the leaf itself is
 * the standard `leafHash(encodeEntry(entry))`, so any RFC 6962 tool can check proofs. See
 * docs/audit.md for exactly what {@link verify} detects.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6962#section-2.1
 * @see https://c2sp.org/tlog-checkpoint
 */
export class PgAuditLog implements AuditLog {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Appends `entries` in order, in one transaction under an advisory lock, so appends from any number
   * of processes form one gap-free sequence 0, 1, 2, ...; resolves once they are committed.
   *
   * @returns the entries' leaf indices, consecutive.
   * @throws InputError `AUDIT_ENTRY_INVALID` when an entry cannot be encoded or its `missionId` is not a
   *   UUID (nothing is appended); any database error rejects too (nothing is appended: fail closed).
   */
  async append(entries: readonly AuditEntry[]): Promise<number[]> {
    if (entries.length === 0) return [];
    const encoded = entries.map((entry, i) => {
      const bytes = encodeEntry(entry);
      if (entry.missionId !== null && !UUID.test(entry.missionId)) {
        throw new InputError('AUDIT_ENTRY_INVALID', `The audit entry's missionId is not a mission ID: expected a UUID.`, [{ path: `entries.${i}.missionId`, message: 'is not a UUID', expected: 'a UUID', received: JSON.stringify(entry.missionId) }]);
      }
      return { entry, bytes, leaf: leafHash(bytes) };
    });
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`.execute(trx);
      const last = await trx.selectFrom('interlock.audit_entries').select(['idx', 'chain_hash']).orderBy('idx', 'desc').limit(1).executeTakeFirst();
      let idx = last === undefined ? 0 : last.idx + 1;
      let chain: Uint8Array = last === undefined ? CHAIN_START : new Uint8Array(last.chain_hash);
      const rows = encoded.map(({ entry, bytes, leaf }) => {
        chain = chainHash(chain, leaf);
        return { idx: idx++, kind: entry.kind, mission_id: entry.missionId, actor: entry.actor, at: new Date(entry.at), entry: Buffer.from(bytes), leaf_hash: Buffer.from(leaf), chain_hash: Buffer.from(chain) };
      });
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('interlock.audit_entries').values(rows.slice(i, i + INSERT_CHUNK)).execute();
      return rows.map((row) => row.idx);
    });
  }

  /** Number of entries in the log (the next index). */
  async size(): Promise<number> {
    const row = await this.#db.selectFrom('interlock.audit_entries').select('idx').orderBy('idx', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? 0 : row.idx + 1;
  }

  /** The checkpoint of the largest size, or undefined before the first. */
  async latestCheckpoint(): Promise<AuditCheckpointRecord | undefined> {
    const row = await this.#db.selectFrom('interlock.audit_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Makes a signed checkpoint of the log as it is now: streams every leaf in index order (checking
   * each row and the earlier checkpoints' roots on the way, as {@link verify} does but without
   * checking signatures), formats a C2SP checkpoint for `origin`, signs it with `signer` and stores
   * it. Idempotent: when a checkpoint of the current size exists, returns it with `created: false`.
   *
   * @param signer the log's key, conventionally named `origin`.
   * @param origin the log's identity, the checkpoint's first line, e.g. `interlock/audit`.
   * @throws InternalError `AUDIT_TAMPERED` when the stored log fails its checks: it is never signed.
   * @see c2sp.org/tlog-checkpoint; c2sp.org/signed-note
   */
  async checkpoint(signer: NoteSigner, origin: string): Promise<AuditCheckpointResult> {
    // Read one snapshot (appends are whole transactions, so it holds a gap-free prefix), then store.
    const found = await this.#db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const top = await trx.selectFrom('interlock.audit_entries').select('idx').orderBy('idx', 'desc').limit(1).executeTakeFirst();
        const existing = await trx.selectFrom('interlock.audit_checkpoints').selectAll().where('size', '=', top === undefined ? 0 : top.idx + 1).executeTakeFirst();
        return existing !== undefined ? existing : this.#scan(trx, undefined);
      });
    if ('note' in found) return { ...toRecord(found), created: false };
    if (!found.ok) {
      throw new InternalError(`The audit log is tampered at index ${found.firstBadIndex} (${found.reason}), so it was not checkpointed; run \`interlock audit verify\` and restore the log from a backup.`, {
        code: 'AUDIT_TAMPERED',
        details: { firstBadIndex: found.firstBadIndex, reason: found.reason },
      });
    }
    const note = signNote(formatCheckpoint({ origin, size: found.size, rootHash: found.root }), signer);
    await this.#db
      .insertInto('interlock.audit_checkpoints')
      .values({ size: found.size, root_hash: Buffer.from(found.root), note, created_at: new Date() })
      .onConflict((oc) => oc.column('size').doNothing())
      .execute();
    // A concurrent call may have stored the same size first: the stored checkpoint is the one.
    const stored = await this.#db.selectFrom('interlock.audit_checkpoints').selectAll().where('size', '=', found.size).executeTakeFirstOrThrow();
    return { ...toRecord(stored), created: stored.note === note };
  }

  /**
   * The inclusion proof of entry `index` against the latest checkpoint, computed by streaming the
   * checkpoint's leaves once (O(size) reads, O(log size) memory).
   *
   * @throws InputError `AUDIT_PROOF_RANGE` when `index` is not an integer in [0, log size).
   * @throws InputError `AUDIT_CHECKPOINT_MISSING` when no checkpoint covers `index` yet (make one).
   * @see RFC 9162 §2.1.3.1
   */
  async proof(index: number): Promise<AuditProof> {
    const latest = await this.latestCheckpoint();
    if (!Number.isSafeInteger(index) || index < 0 || latest === undefined || index >= latest.size) {
      const size = await this.size();
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
        throw new InputError('AUDIT_PROOF_RANGE', `The audit log has no entry ${String(index)}: ask for an index in [0, ${size}).`, [], { details: { index, size } });
      }
      throw new InputError('AUDIT_CHECKPOINT_MISSING', `No checkpoint covers audit entry ${index} yet (the latest covers ${latest?.size ?? 0} entries): make one with \`interlock audit checkpoint\`.`, [], {
        details: { index, checkpointSize: latest?.size ?? 0 },
      });
    }
    const ranges = proofRanges(index, latest.size).map((range, order) => ({ ...range, order, acc: new MerkleAccumulator() }));
    const byStart = [...ranges].sort((a, b) => a.start - b.start);
    let entry: Uint8Array | undefined;
    let leaf: Uint8Array | undefined;
    let r = 0;
    let expected = 0;
    for await (const rows of this.#batches(this.#db, latest.size)) {
      for (const row of rows) {
        if (row.idx !== expected) throw new InternalError(`The audit log has no entry ${expected} (the next is ${row.idx}); run \`interlock audit verify\`.`, { code: 'AUDIT_TAMPERED', details: { firstBadIndex: expected } });
        expected += 1;
        if (row.idx === index) {
          entry = new Uint8Array(row.entry);
          leaf = new Uint8Array(row.leaf_hash);
          continue;
        }
        while (byStart[r]!.end <= row.idx) r += 1;
        byStart[r]!.acc.append(row.leaf_hash);
      }
    }
    if (entry === undefined || leaf === undefined || expected !== latest.size) {
      throw new InternalError(`The audit log has ${expected} entries, fewer than its checkpoint of ${latest.size}; run \`interlock audit verify\`.`, { code: 'AUDIT_TAMPERED', details: { firstBadIndex: expected } });
    }
    return { checkpoint: latest.note, index, size: latest.size, entry, leafHash: leaf, proof: ranges.map((range) => range.acc.root()) };
  }

  /**
   * Checks the whole log against itself and its signed checkpoints, streaming entries in index order
   * (batches of 10,000) in one snapshot. For each row: the index follows the previous one (no gap),
   * the leaf hash recomputed from the stored bytes equals the stored leaf hash, the query columns
   * match the bytes, and the chain hash links it to the previous row. At each checkpoint's size: its
   * note is signed by `verifierKey` and its root equals the root recomputed from the leaves. Returns
   * the first problem found, by index; see docs/audit.md for which tampering is located exactly and
   * which only to a range between two checkpoints.
   *
   * @param verifierKey the log's verifier key (`<name>+<key ID>+<key>`).
   * @param onProgress called after each batch with the number of entries checked so far.
   * @throws InputError `AUDIT_KEY_INVALID` when `verifierKey` is malformed. A tampered log is a value.
   */
  async verify(verifierKey: string, onProgress?: (checked: number) => void): Promise<AuditVerification> {
    const verifier = parseVerifierKey(verifierKey);
    const scan = await this.#db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute((trx) => this.#scan(trx, verifier, onProgress));
    return scan.ok ? { ok: true, size: scan.size, checkpoints: scan.checkpoints } : scan;
  }

  /** Rows in index order, `BATCH` at a time, below `limit` when given. */
  async *#batches(db: Kysely<Database>, limit: number | undefined) {
    let after: number | undefined;
    for (;;) {
      let query = db.selectFrom('interlock.audit_entries').select(['idx', 'kind', 'actor', 'mission_id', 'at', 'entry', 'leaf_hash', 'chain_hash']).orderBy('idx').limit(BATCH);
      if (after !== undefined) query = query.where('idx', '>', after);
      if (limit !== undefined) query = query.where('idx', '<', limit);
      const rows = await query.execute();
      if (rows.length === 0) return;
      yield rows;
      after = rows[rows.length - 1]!.idx;
      if (rows.length < BATCH) return;
    }
  }

  /**
   * The check behind {@link verify} and {@link checkpoint}. With a `verifier`, each checkpoint's
   * signature is checked; without one (when signing), only its root.
   */
  async #scan(trx: Kysely<Database>, verifier: NoteVerifier | undefined, onProgress?: (checked: number) => void): Promise<Scan> {
    const checkpoints = await trx.selectFrom('interlock.audit_checkpoints').selectAll().orderBy('size').execute();
    const acc = new MerkleAccumulator();
    let next = 0; // the next checkpoint to reach
    let covered = 0; // size of the last checkpoint that matched: entries below it are as signed
    let chain2: Uint8Array = CHAIN_START; // chain hash two rows back
    let chain1: Uint8Array = CHAIN_START; // chain hash of the previous row

    const atCheckpoints = (): Scan | undefined => {
      while (next < checkpoints.length && checkpoints[next]!.size === acc.size) {
        const row = checkpoints[next]!;
        const problem = checkpointProblem(row, verifier, acc.size === 0 ? emptyRoot() : acc.root());
        if (problem !== undefined) {
          const range = covered === row.size - 1 ? `entry ${covered}` : `entries ${covered}..${row.size - 1}`;
          return { ok: false, firstBadIndex: covered, reason: `${problem}: ${range} differ from what was signed (an entry in that range was changed, inserted, removed or moved, and its hashes rewritten to hide it)` };
        }
        covered = row.size;
        next += 1;
      }
      return undefined;
    };

    const start = atCheckpoints();
    if (start !== undefined) return start;
    for await (const rows of this.#batches(trx, undefined)) {
      for (const row of rows) {
        const i = acc.size;
        if (row.idx !== i) {
          return row.idx > i
            ? { ok: false, firstBadIndex: i, reason: `entry ${i} is missing (the next stored entry is ${row.idx}): it was deleted` }
            : { ok: false, firstBadIndex: i, reason: `a row with index ${row.idx} is stored where entry ${i} was expected` };
        }
        const leaf = new Uint8Array(row.leaf_hash);
        if (!equalBytes(leafHash(row.entry), leaf)) return { ok: false, firstBadIndex: i, reason: 'its bytes do not match its leaf hash: the entry was rewritten' };
        const mismatch = columnMismatch(row);
        if (mismatch !== undefined) return { ok: false, firstBadIndex: i, reason: `${mismatch}: the row was rewritten` };
        const chain = chainHash(chain1, leaf);
        if (!equalBytes(chain, row.chain_hash)) {
          // A row that links to the row two back means the row before it was inserted.
          if (i > 0 && equalBytes(chainHash(chain2, leaf), row.chain_hash)) {
            return { ok: false, firstBadIndex: i - 1, reason: `entry ${i} links to entry ${i - 2}, not to entry ${i - 1}: entry ${i - 1} was inserted and the later entries renumbered` };
          }
          return { ok: false, firstBadIndex: i, reason: i === 0 ? 'it does not start the hash chain: an entry was inserted, removed or moved here' : `it does not follow entry ${i - 1} in the hash chain: an entry was inserted, removed, moved or rewritten here` };
        }
        chain2 = chain1;
        chain1 = chain;
        acc.append(leaf);
        const problem = atCheckpoints();
        if (problem !== undefined) return problem;
      }
      onProgress?.(acc.size);
    }
    if (next < checkpoints.length) {
      const size = checkpoints[checkpoints.length - 1]!.size;
      return { ok: false, firstBadIndex: acc.size, reason: `a checkpoint covers ${size} entries but the log holds ${acc.size}: entries from ${acc.size} on were deleted` };
    }
    return { ok: true, size: acc.size, root: acc.root(), checkpoints: checkpoints.length };
  }
}

/** Why checkpoint `row` fails (bad signature, note disagreeing with its row, wrong root), or undefined. */
function checkpointProblem(row: CheckpointRow, verifier: NoteVerifier | undefined, root: Uint8Array): string | undefined {
  let text: string;
  if (verifier === undefined) {
    try {
      text = parseNote(row.note).text;
    } catch (error) {
      return `the checkpoint of size ${row.size} is not a signed note (${error instanceof Error ? error.message : String(error)})`;
    }
  } else {
    const verified = verifyNote(row.note, [verifier]);
    if (!verified.ok) return `the checkpoint of size ${row.size} is not signed by the given key (${verified.reason})`;
    text = verified.text;
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(text);
  } catch (error) {
    return `the checkpoint of size ${row.size} is malformed (${error instanceof Error ? error.message : String(error)})`;
  }
  if (checkpoint.size !== row.size) return `the checkpoint stored for size ${row.size} is signed for size ${checkpoint.size}`;
  if (!equalBytes(checkpoint.rootHash, root)) return `the root of the first ${row.size} entries differs from the root signed in the checkpoint of size ${row.size}`;
  return undefined;
}
