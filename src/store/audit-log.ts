import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { MerkleAccumulator, compactRange, consistencyProofRanges, emptyRoot, inclusionProofRanges, leafHash, verifyConsistency, verifyInclusion } from '../core/audit/merkle.js';
import { completedNodes, nodeChildren, nodeFromChildren, rangeHash, rangeHashKeys, type NodeKey } from '../core/audit/tree-nodes.js';
import { AUDIT_ENTRY_KINDS, encodeEntry, type AuditEntry, type AuditEntryKind } from '../core/audit/entry.js';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../core/audit/checkpoint.js';
import { parseNote, parseVerifierKey, signNote, verifyNote, type Ed25519NoteSigner, type NoteVerifier } from '../core/audit/signed-note.js';
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

/** A consistency proof between two signed checkpoints; check it with `verifyConsistency`. */
export interface AuditConsistencyProof {
  /** The older checkpoint note (size m). */
  readonly from: string;
  /** The newer checkpoint note (size n >= m). */
  readonly to: string;
  readonly fromSize: number;
  readonly toSize: number;
  /** PROOF(m, D[n]), 32-byte hashes (RFC 9162 §2.1.4.1); empty when m = n. */
  readonly proof: readonly Uint8Array[];
}

/** A filter over the audit log; every given field must match. Entries come in index order. */
export interface AuditQuery {
  /** Entries of this mission (a UUID). */
  readonly missionId?: string;
  /** Entries whose actor is this principal or engine name. */
  readonly actor?: string;
  /** Entries whose `data.tool` is this tool name (calls, results, compensations, verifications). */
  readonly tool?: string;
  /** Entries of these kinds. */
  readonly kinds?: readonly AuditEntryKind[];
  /** Entries at or after this time, ms since the epoch. */
  readonly since?: number;
  /** Entries before this time, ms since the epoch. */
  readonly until?: number;
  /** Entries with an index above this one: the `next` cursor of the previous page. */
  readonly after?: number;
  /** Entries per page, 1..1000. @default 100 */
  readonly limit?: number;
}

/** One stored audit entry: its index (leaf position), the entry, and its leaf hash. */
export interface AuditRecord {
  readonly index: number;
  readonly entry: AuditEntry;
  /** `leafHash(encodeEntry(entry))`, 32 bytes. */
  readonly leafHash: Uint8Array;
}

/** A page of {@link PgAuditLog.query}: the entries, and the cursor of the next page (null at the end). */
export interface AuditPage {
  readonly entries: readonly AuditRecord[];
  /** Pass as `after` to read on; null when this page is the last one (at the time of reading). */
  readonly next: number | null;
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
function columnMismatch(row: { kind: string; actor: string; mission_id: string | null; at: number; entry: Buffer; tool: string | null }): string | undefined {
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
    (typeof (entry.data as { tool?: unknown } | undefined)?.tool === 'string' ? (entry.data as { tool: string }).tool : null) !== row.tool && 'tool',
  ].filter((field): field is string => field !== false);
  return differs.length === 0 ? undefined : `its ${differs.join(', ')} column${differs.length === 1 ? '' : 's'} disagree${differs.length === 1 ? 's' : ''} with its entry bytes`;
}

function nodeKey(key: NodeKey): string {
  return `${key.level}:${key.idx}`;
}

function tampered(message: string, firstBadIndex: number | undefined): InternalError {
  return new InternalError(`${message}; run \`interlock audit verify\` and restore the log from a backup.`, { code: 'AUDIT_TAMPERED', details: firstBadIndex === undefined ? {} : { firstBadIndex } });
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
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
    return this.#db.transaction().execute((trx) => this.appendIn(trx, entries));
  }

  /**
   * Appends `entries` inside the caller's transaction `trx`, as {@link append} does (same lock, same
   * checks), so they commit or roll back together with what they record: a vote and its entries,
   * for instance. The advisory lock is held until `trx` ends, so keep the rest of `trx` short.
   *
   * @returns the entries' leaf indices, consecutive (valid once `trx` commits).
   * @throws InputError `AUDIT_ENTRY_INVALID` as {@link append}; any database error rejects (the
   *   caller's transaction must then roll back).
   */
  async appendIn(trx: Transaction<Database>, entries: readonly AuditEntry[]): Promise<number[]> {
    if (entries.length === 0) return [];
    const encoded = entries.map((entry, i) => {
      const bytes = encodeEntry(entry);
      if (entry.missionId !== null && !UUID.test(entry.missionId)) {
        throw new InputError('AUDIT_ENTRY_INVALID', `The audit entry's missionId is not a mission ID: expected a UUID.`, [{ path: `entries.${i}.missionId`, message: 'is not a UUID', expected: 'a UUID', received: JSON.stringify(entry.missionId) }]);
      }
      return { entry, bytes, leaf: leafHash(bytes) };
    });
    await sql`select pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`.execute(trx);
    const last = await trx.selectFrom('interlock.audit_entries').select(['idx', 'chain_hash']).orderBy('idx', 'desc').limit(1).executeTakeFirst();
    let idx = last === undefined ? 0 : last.idx + 1;
    let chain: Uint8Array = last === undefined ? CHAIN_START : new Uint8Array(last.chain_hash);
    const rows = encoded.map(({ entry, bytes, leaf }) => {
      chain = chainHash(chain, leaf);
      const tool = typeof entry.data.tool === 'string' ? entry.data.tool : null;
      return { idx: idx++, kind: entry.kind, mission_id: entry.missionId, actor: entry.actor, at: new Date(entry.at), entry: Buffer.from(bytes), leaf_hash: Buffer.from(leaf), chain_hash: Buffer.from(chain), tool };
    });
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('interlock.audit_entries').values(rows.slice(i, i + INSERT_CHUNK)).execute();
    await this.#storeNodes(trx, rows[0]!.idx, idx, new Map(rows.map((row) => [nodeKey({ level: 0, idx: row.idx }), new Uint8Array(row.leaf_hash)])));
    return rows.map((row) => row.idx);
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
   * Makes a signed checkpoint of the log as it is now, formats it as a C2SP checkpoint for `origin`,
   * signs it with `signer` and stores it. Idempotent: when a checkpoint of the current size exists,
   * returns it with `created: false`.
   *
   * The first checkpoint streams every leaf, checking each row as {@link verify} does. Later ones are
   * incremental: the latest checkpoint must verify with `signer`'s own key; the root is resumed from
   * the stored subtree hashes of its compact range (which must fold to its signed root) and extended
   * with the entries added since, each checked (bytes, columns, chain). So a new checkpoint always
   * extends the previous signed one, and costs the new entries plus O(log n) reads.
   *
   * @param signer the log's key, conventionally named `origin`.
   * @param origin the log's identity, the checkpoint's first line, e.g. `interlock/audit`.
   * @throws InternalError `AUDIT_TAMPERED` when the stored log fails its checks: it is never signed.
   * @throws InternalError `AUDIT_KEY_MISMATCH` when the latest checkpoint is not signed by `signer`.
   * @see c2sp.org/tlog-checkpoint; c2sp.org/signed-note
   */
  async checkpoint(signer: Ed25519NoteSigner, origin: string): Promise<AuditCheckpointResult> {
    const verifier = parseVerifierKey(signer.verifierKey);
    // Read one snapshot (appends are whole transactions, so it holds a gap-free prefix), then store.
    const found = await this.#db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const top = await trx.selectFrom('interlock.audit_entries').select('idx').orderBy('idx', 'desc').limit(1).executeTakeFirst();
        const size = top === undefined ? 0 : top.idx + 1;
        const existing = await trx.selectFrom('interlock.audit_checkpoints').selectAll().where('size', '=', size).executeTakeFirst();
        if (existing !== undefined) return existing;
        const latest = await trx.selectFrom('interlock.audit_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst();
        return latest === undefined ? this.#scan(trx, undefined) : this.#extend(trx, latest, size, verifier);
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

  /** The stored checkpoint of exactly `size` entries, or undefined. */
  async checkpointAt(size: number): Promise<AuditCheckpointRecord | undefined> {
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    const row = await this.#db.selectFrom('interlock.audit_checkpoints').selectAll().where('size', '=', size).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * The inclusion proof of entry `index` against a signed checkpoint: the latest one, or the one of
   * exactly `size` entries. Computed from the stored subtree hashes (O(log² n) reads, see
   * `core/audit/tree-nodes.ts`) and checked against the checkpoint's root before it is returned.
   *
   * @throws InputError `AUDIT_PROOF_RANGE` when `index` is not an integer in [0, log size), or no
   *   checkpoint has `size` entries.
   * @throws InputError `AUDIT_CHECKPOINT_MISSING` when no checkpoint covers `index` yet (make one).
   * @throws InternalError `AUDIT_TAMPERED` when stored rows are missing or disagree with the checkpoint.
   * @see RFC 9162 §2.1.3.1
   */
  async proof(index: number, size?: number): Promise<AuditProof> {
    const checkpoint = size === undefined ? await this.latestCheckpoint() : await this.#checkpointOrThrow(size, 'size');
    if (!Number.isSafeInteger(index) || index < 0 || checkpoint === undefined || index >= checkpoint.size) {
      const logSize = await this.size();
      if (!Number.isSafeInteger(index) || index < 0 || index >= logSize) {
        throw new InputError('AUDIT_PROOF_RANGE', `The audit log has no entry ${String(index)}: ask for an index in [0, ${logSize}).`, [], { details: { index, size: logSize } });
      }
      throw new InputError('AUDIT_CHECKPOINT_MISSING', `No checkpoint covers audit entry ${index} yet (${size === undefined ? 'the latest' : 'the one asked for'} covers ${checkpoint?.size ?? 0} entries): make one with \`interlock audit checkpoint\`.`, [], {
        details: { index, checkpointSize: checkpoint?.size ?? 0 },
      });
    }
    const row = await this.#db.selectFrom('interlock.audit_entries').select(['entry', 'leaf_hash']).where('idx', '=', index).executeTakeFirst();
    if (row === undefined) throw tampered(`The audit log has no entry ${index} below its checkpoint of ${checkpoint.size}`, index);
    const entry = new Uint8Array(row.entry);
    const leaf = new Uint8Array(row.leaf_hash);
    if (Buffer.compare(leafHash(entry), leaf) !== 0) throw tampered(`Audit entry ${index}'s bytes do not match its leaf hash`, index);
    const proof = await this.#rangeHashes(inclusionProofRanges(index, checkpoint.size));
    const checked = verifyInclusion(index, checkpoint.size, leaf, proof, checkpoint.rootHash);
    if (!checked.ok) throw tampered(`The stored audit tree does not prove entry ${index} against the checkpoint of size ${checkpoint.size} (${checked.reason})`, undefined);
    return { checkpoint: checkpoint.note, index, size: checkpoint.size, entry, leafHash: leaf, proof };
  }

  /**
   * The consistency proof that the checkpoint of `to` entries (default: the latest) extends the one
   * of `from` entries, both stored checkpoints; computed from stored subtree hashes and checked
   * against both signed roots before it is returned.
   *
   * @throws InputError `AUDIT_PROOF_RANGE` when `from` or `to` is not the size of a stored checkpoint,
   *   or `from` is 0 or larger than `to` (RFC 9162 defines no proof from the empty tree).
   * @throws InternalError `AUDIT_TAMPERED` when the stored tree disagrees with the checkpoints.
   * @see RFC 9162 §2.1.4.1
   */
  async consistencyProof(from: number, to?: number): Promise<AuditConsistencyProof> {
    const newer = to === undefined ? await this.latestCheckpoint() : await this.#checkpointOrThrow(to, 'to');
    if (newer === undefined) throw new InputError('AUDIT_CHECKPOINT_MISSING', 'The audit log has no checkpoint yet: make one with `interlock audit checkpoint`.', [], { details: {} });
    const older = await this.#checkpointOrThrow(from, 'from');
    if (older.size === 0 || older.size > newer.size) {
      throw new InputError('AUDIT_PROOF_RANGE', `A consistency proof needs 0 < from <= to; got from ${older.size}, to ${newer.size}.`, [{ path: 'from', message: 'is 0 or above to', expected: `a checkpoint size in [1, ${newer.size}]`, received: String(from) }], {
        details: { from: older.size, to: newer.size },
      });
    }
    const proof = older.size === newer.size ? [] : await this.#rangeHashes(consistencyProofRanges(older.size, newer.size));
    const checked = verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, proof);
    if (!checked.ok) throw tampered(`The stored audit tree does not prove the checkpoint of size ${newer.size} consistent with the one of size ${older.size} (${checked.reason})`, undefined);
    return { from: older.note, to: newer.note, fromSize: older.size, toSize: newer.size, proof };
  }

  /**
   * Entries matching `query`, in index order, one page at a time: pass the page's `next` as `after`
   * to read on. Reads the query columns and indexes, not the Merkle tree; each entry is parsed from
   * its stored bytes (what is hashed), not from the columns.
   *
   * @throws InputError `INPUT_INVALID` naming the field when a filter value is out of range.
   */
  async query(query: AuditQuery): Promise<AuditPage> {
    const limit = query.limit ?? 100;
    const problems = [
      query.limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) && { path: 'limit', message: 'is out of range', expected: 'an integer in [1, 1000]', received: String(query.limit) },
      query.after !== undefined && (!Number.isSafeInteger(query.after) || query.after < -1) && { path: 'after', message: 'is not an entry index', expected: 'an integer >= -1', received: String(query.after) },
      query.missionId !== undefined && !UUID.test(query.missionId) && { path: 'mission', message: 'is not a mission ID', expected: 'a UUID', received: query.missionId },
      query.since !== undefined && !Number.isFinite(query.since) && { path: 'since', message: 'is not a time', expected: 'ms since the epoch', received: String(query.since) },
      query.until !== undefined && !Number.isFinite(query.until) && { path: 'until', message: 'is not a time', expected: 'ms since the epoch', received: String(query.until) },
      ...(query.kinds ?? []).filter((kind) => !(AUDIT_ENTRY_KINDS as readonly string[]).includes(kind)).map((kind) => ({ path: 'kind', message: 'is not an audit entry kind', expected: AUDIT_ENTRY_KINDS.join(', '), received: kind })),
    ].filter((problem) => problem !== false);
    if (problems.length > 0) throw new InputError('INPUT_INVALID', `The audit query is invalid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, problems);
    let select = this.#db.selectFrom('interlock.audit_entries').select(['idx', 'entry', 'leaf_hash']).orderBy('idx').limit(limit + 1);
    if (query.after !== undefined) select = select.where('idx', '>', query.after);
    if (query.missionId !== undefined) select = select.where('mission_id', '=', query.missionId.toLowerCase());
    if (query.actor !== undefined) select = select.where('actor', '=', query.actor);
    if (query.tool !== undefined) select = select.where('tool', '=', query.tool);
    if (query.kinds !== undefined && query.kinds.length > 0) select = select.where('kind', 'in', [...query.kinds]);
    if (query.since !== undefined) select = select.where('at', '>=', new Date(query.since) as unknown as number);
    if (query.until !== undefined) select = select.where('at', '<', new Date(query.until) as unknown as number);
    const rows = await select.execute();
    const page = rows.slice(0, limit);
    return {
      entries: page.map((row) => ({ index: row.idx, entry: JSON.parse(row.entry.toString('utf8')) as AuditEntry, leafHash: new Uint8Array(row.leaf_hash) })),
      next: rows.length > limit ? page[page.length - 1]!.idx : null,
    };
  }

  async #checkpointOrThrow(size: number, field: string): Promise<AuditCheckpointRecord> {
    const found = await this.checkpointAt(size);
    if (found === undefined) {
      throw new InputError('AUDIT_PROOF_RANGE', `There is no checkpoint of ${String(size)} entries: proofs are made against stored checkpoints (GET /v1/audit/checkpoints lists them).`, [
        { path: field, message: 'is not the size of a stored checkpoint', expected: 'a checkpoint size', received: String(size) },
      ], { details: { [field]: size } });
    }
    return found;
  }

  /**
   * Writes the stored subtree nodes that appending leaves [from, to) completes (`known` holds the new
   * leaf hashes), level by level, reading the children that earlier appends wrote.
   */
  async #storeNodes(trx: Kysely<Database>, from: number, to: number, known: Map<string, Uint8Array>): Promise<void> {
    const nodes = completedNodes(from, to);
    for (let i = 0; i < nodes.length; ) {
      const level = nodes[i]!.level;
      const atLevel: NodeKey[] = [];
      for (; i < nodes.length && nodes[i]!.level === level; i++) atLevel.push(nodes[i]!);
      const missing = atLevel.flatMap(nodeChildren).filter((child) => !known.has(nodeKey(child)));
      for (const [key, hash] of await this.#hashes(trx, missing)) known.set(key, hash);
      const rows = atLevel.map((node) => {
        const hash = nodeFromChildren(nodeChildren(node).map((child) => {
          const found = known.get(nodeKey(child));
          if (found === undefined) throw tampered(`The audit tree is missing ${child.level === 0 ? `entry ${child.idx}` : `its stored node ${nodeKey(child)}`}, needed to append`, child.level === 0 ? child.idx : undefined);
          return found;
        }));
        known.set(nodeKey(node), hash);
        return { level: node.level, idx: node.idx, hash: Buffer.from(hash) };
      });
      for (let r = 0; r < rows.length; r += INSERT_CHUNK) await trx.insertInto('interlock.audit_tree_nodes').values(rows.slice(r, r + INSERT_CHUNK)).execute();
    }
  }

  /** The stored hashes of `keys` (leaf hashes for level 0), by {@link nodeKey}; absent keys are left out. */
  async #hashes(db: Kysely<Database>, keys: readonly NodeKey[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const byLevel = new Map<number, number[]>();
    for (const key of keys) byLevel.set(key.level, [...(byLevel.get(key.level) ?? []), key.idx]);
    for (const [level, indices] of byLevel) {
      for (let i = 0; i < indices.length; i += INSERT_CHUNK) {
        const chunk = indices.slice(i, i + INSERT_CHUNK);
        const rows = level === 0
          ? await db.selectFrom('interlock.audit_entries').select(['idx', 'leaf_hash as hash']).where('idx', 'in', chunk).execute()
          : await db.selectFrom('interlock.audit_tree_nodes').select(['idx', 'hash']).where('level', '=', level).where('idx', 'in', chunk).execute();
        for (const row of rows) found.set(nodeKey({ level, idx: row.idx }), new Uint8Array(row.hash));
      }
    }
    return found;
  }

  /** MTH of each range, from stored hashes. @throws InternalError `AUDIT_TAMPERED` when one is missing. */
  async #rangeHashes(ranges: readonly { start: number; end: number }[], db: Kysely<Database> = this.#db): Promise<Uint8Array[]> {
    const hashes = await this.#hashes(db, rangeHashKeys(ranges));
    return ranges.map((range) => rangeHash(range, (key) => {
      const hash = hashes.get(nodeKey(key));
      if (hash === undefined) throw tampered(`The audit tree is missing ${key.level === 0 ? `entry ${key.idx}` : `its stored node ${nodeKey(key)}`}`, key.level === 0 ? key.idx : undefined);
      return hash;
    }));
  }

  /**
   * The incremental check behind {@link checkpoint}: `latest` must verify with `verifier` and its root
   * must be what the stored compact range folds to; then the rows from its size up to `size` are
   * checked (index, bytes, columns, chain) and appended to the resumed tree.
   */
  async #extend(trx: Kysely<Database>, latest: CheckpointRow, size: number, verifier: NoteVerifier): Promise<Scan> {
    const signed = verifyNote(latest.note, [verifier]);
    if (!signed.ok) {
      throw new InternalError(`The audit log's latest checkpoint (size ${latest.size}) is not signed by this worker's key ${verifier.name}+${verifier.keyId.toString(16).padStart(8, '0')} (${signed.reason}): every worker must use the same audit.signingKeyFile, so this worker signs nothing.`, {
        code: 'AUDIT_KEY_MISMATCH',
        details: { checkpointSize: latest.size },
      });
    }
    const problem = checkpointProblem(latest, undefined, new Uint8Array(latest.root_hash));
    if (problem !== undefined) return { ok: false, firstBadIndex: latest.size, reason: problem };
    const root = parseCheckpoint(signed.text).rootHash;
    if (size < latest.size) return { ok: false, firstBadIndex: size, reason: `a checkpoint covers ${latest.size} entries but the log holds ${size}: entries from ${size} on were deleted` };
    const acc = MerkleAccumulator.resume(latest.size, await this.#rangeHashes(compactRange(latest.size), trx));
    if (Buffer.compare(acc.size === 0 ? emptyRoot() : acc.root(), root) !== 0) {
      return { ok: false, firstBadIndex: 0, reason: `the stored tree of the first ${latest.size} entries has root ${hex(acc.root())}, not the signed ${hex(root)}: entries 0..${latest.size - 1} differ from what was signed` };
    }
    let chain: Uint8Array = CHAIN_START;
    if (latest.size > 0) {
      const before = await trx.selectFrom('interlock.audit_entries').select('chain_hash').where('idx', '=', latest.size - 1).executeTakeFirst();
      if (before === undefined) return { ok: false, firstBadIndex: latest.size - 1, reason: `entry ${latest.size - 1} is missing: it was deleted` };
      chain = new Uint8Array(before.chain_hash);
    }
    for await (const rows of this.#batches(trx, size, latest.size - 1)) {
      for (const row of rows) {
        const problem = rowProblem(row, acc.size, chain, undefined);
        if (problem !== undefined) return { ok: false, ...problem };
        chain = new Uint8Array(row.chain_hash);
        acc.append(new Uint8Array(row.leaf_hash));
      }
    }
    if (acc.size !== size) return { ok: false, firstBadIndex: acc.size, reason: `entry ${acc.size} is missing: it was deleted` };
    return { ok: true, size, root: acc.root(), checkpoints: 1 };
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

  /** Rows in index order, `BATCH` at a time, above `start` and below `limit` when given. */
  async *#batches(db: Kysely<Database>, limit: number | undefined, start?: number) {
    let after = start;
    for (;;) {
      let query = db.selectFrom('interlock.audit_entries').select(['idx', 'kind', 'actor', 'mission_id', 'at', 'entry', 'leaf_hash', 'chain_hash', 'tool']).orderBy('idx').limit(BATCH);
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
        const problem = rowProblem(row, acc.size, chain1, chain2);
        if (problem !== undefined) return { ok: false, ...problem };
        chain2 = chain1;
        chain1 = new Uint8Array(row.chain_hash);
        acc.append(new Uint8Array(row.leaf_hash));
        const reached = atCheckpoints();
        if (reached !== undefined) return reached;
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

type EntryRow = { idx: number; kind: string; actor: string; mission_id: string | null; at: number; entry: Buffer; leaf_hash: Buffer; chain_hash: Buffer; tool: string | null };

/**
 * Why `row`, expected at index `i` after a row with chain hash `previous`, is not what was appended:
 * a gap or foreign index, bytes not matching the leaf hash, query columns not matching the bytes, or
 * a broken chain. With `twoBack` (the chain hash before `previous`), a row that links to the row two
 * back is reported as an insertion before it. Undefined when the row is sound.
 */
function rowProblem(row: EntryRow, i: number, previous: Uint8Array, twoBack: Uint8Array | undefined): { firstBadIndex: number; reason: string } | undefined {
  if (row.idx !== i) {
    return row.idx > i
      ? { firstBadIndex: i, reason: `entry ${i} is missing (the next stored entry is ${row.idx}): it was deleted` }
      : { firstBadIndex: i, reason: `a row with index ${row.idx} is stored where entry ${i} was expected` };
  }
  const leaf = new Uint8Array(row.leaf_hash);
  if (!equalBytes(leafHash(row.entry), leaf)) return { firstBadIndex: i, reason: 'its bytes do not match its leaf hash: the entry was rewritten' };
  const mismatch = columnMismatch(row);
  if (mismatch !== undefined) return { firstBadIndex: i, reason: `${mismatch}: the row was rewritten` };
  if (equalBytes(chainHash(previous, leaf), row.chain_hash)) return undefined;
  // A row that links to the row two back means the row before it was inserted.
  if (i > 0 && twoBack !== undefined && equalBytes(chainHash(twoBack, leaf), row.chain_hash)) {
    return { firstBadIndex: i - 1, reason: `entry ${i} links to entry ${i - 2}, not to entry ${i - 1}: entry ${i - 1} was inserted and the later entries renumbered` };
  }
  return { firstBadIndex: i, reason: i === 0 ? 'it does not start the hash chain: an entry was inserted, removed or moved here' : `it does not follow entry ${i - 1} in the hash chain: an entry was inserted, removed, moved or rewritten here` };
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
