/**
 * Checkpoints (c2sp.org/tlog-checkpoint): the note text a log signs to commit to its Merkle tree at a
 * size. Three lines, then optional extension lines, each ending in a newline:
 *
 * ```
 * <origin>
 * <tree size, decimal>
 * <root hash, base64>
 * ```
 *
 * Sign the text with `signNote` and check it with `verifyNote` (./signed-note.ts) before parsing.
 *
 * @see https://c2sp.org/tlog-checkpoint
 */
import { InputError, type Issue } from '../errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { HASH_SIZE } from './merkle.js';

/** A log's tree head: who, how many leaves, which root. */
export interface Checkpoint {
  /** The log's identity, e.g. `interlock.example/audit`; non-empty, no control characters. */
  readonly origin: string;
  /** Tree size in leaves, a safe integer >= 0. */
  readonly size: number;
  /** The RFC 9162 §2.1.1 root of the first `size` leaves, 32 bytes. */
  readonly rootHash: Uint8Array;
  /** Extension lines (opaque, non-empty, without newline); the spec does not recommend them. */
  readonly extensions: readonly string[];
}

/** What {@link formatCheckpoint} takes: a checkpoint whose extension lines may be left out. */
export type CheckpointInput = Omit<Checkpoint, 'extensions'> & { readonly extensions?: readonly string[] };

// ASCII control characters (newline included: these are single lines) and lone surrogates.
const FORBIDDEN_IN_LINE = /[\u0000-\u001f\ud800-\udfff]/u;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const LINE_NAMES = ['origin', 'tree size', 'root hash'] as const;

function lineName(index: number): string {
  return `line ${index + 1} (${LINE_NAMES[index] ?? 'extension'})`;
}

function invalid(index: number, message: string, expected: string, received: string): InputError {
  const issue: Issue = { path: `line ${index + 1}`, message, expected, received };
  return new InputError('AUDIT_CHECKPOINT_INVALID', `Checkpoint ${lineName(index)} ${message}: expected ${expected}, found ${received}.`, [issue]);
}

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

function checkLine(index: number, line: string): void {
  if (line.length === 0) throw invalid(index, 'is empty', index === 0 ? 'a non-empty origin' : 'a non-empty line', '""');
  const bad = FORBIDDEN_IN_LINE.exec(line);
  if (bad !== null) throw invalid(index, 'holds a control character or invalid Unicode', 'printable text', show(line));
}

/**
 * The note text of a checkpoint: origin, decimal tree size, base64 root hash and any extension lines,
 * each followed by a newline. Sign it with `signNote`.
 *
 * @throws InputError `AUDIT_CHECKPOINT_INVALID` when the origin or an extension line is empty or holds
 *   a control character (a newline included), the size is not a safe integer >= 0, or the root hash is
 *   not 32 bytes.
 * @see c2sp.org/tlog-checkpoint, "Note text"
 */
export function formatCheckpoint(checkpoint: CheckpointInput): string {
  const { origin, size, rootHash } = checkpoint;
  const extensions = checkpoint.extensions ?? [];
  checkLine(0, origin);
  if (!Number.isSafeInteger(size) || size < 0) throw invalid(1, 'is not a valid tree size', 'an integer in [0, 2^53 - 1]', String(size));
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_SIZE) {
    throw invalid(2, 'is not a SHA-256 root', `${HASH_SIZE} bytes`, rootHash instanceof Uint8Array ? `${rootHash.length} bytes` : typeof rootHash);
  }
  extensions.forEach((line, i) => checkLine(3 + i, line));
  return [origin, String(size), encodeBase64(rootHash), ...extensions].map((line) => `${line}\n`).join('');
}

/**
 * Parses a checkpoint note text strictly: at least three non-empty lines, each ending in a newline;
 * the origin; the tree size in decimal without leading zeros (`0` for the empty tree); the root hash
 * in canonical standard base64 of exactly 32 bytes; then non-empty extension lines. Pass the `text`
 * that `verifyNote` returned, never an unverified note.
 *
 * @param text the note text (no signatures, no blank separator line).
 * @throws InputError `AUDIT_CHECKPOINT_INVALID` naming the line that is wrong (its `issues[0].path` is
 *   `line <n>`), or a tree size above 2^53 - 1, which Interlock does not handle.
 * @see c2sp.org/tlog-checkpoint, "Note text"
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) {
    const lines = typeof text === 'string' ? text.split('\n').length : 1;
    throw invalid(lines - 1, 'does not end with a newline', 'every line to end with "\\n"', typeof text === 'string' ? show(text.slice(text.lastIndexOf('\n') + 1)) : typeof text);
  }
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid(lines.length, 'is missing', 'at least three lines: origin, tree size, root hash', `${lines.length} line${lines.length === 1 ? '' : 's'}`);
  lines.forEach((line, i) => {
    if (line.length === 0 && i >= 3) {
      throw invalid(i, 'is empty', 'a non-empty extension line (pass the note text that verifyNote returns, not the signed note)', '""');
    }
    checkLine(i, line);
  });
  const [origin, sizeLine, rootLine] = lines as [string, string, string, ...string[]];
  if (!DECIMAL.test(sizeLine)) throw invalid(1, 'is not a tree size', 'a decimal integer without sign or leading zeros', show(sizeLine));
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw invalid(1, 'is too large', 'a tree size of at most 2^53 - 1', show(sizeLine));
  const rootHash = decodeBase64(rootLine);
  if (rootHash === undefined) throw invalid(2, 'is not base64', 'the root hash in canonical standard base64 (RFC 4648 §4)', show(rootLine));
  if (rootHash.length !== HASH_SIZE) throw invalid(2, 'is not a SHA-256 root', `${HASH_SIZE} bytes`, `${rootHash.length} bytes`);
  return { origin, size, rootHash, extensions: lines.slice(3) };
}
