import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { decodeBase64, encodeBase64 } from '../../core/audit/base64.js';
import { parseCheckpoint } from '../../core/audit/checkpoint.js';
import { leafHash, verifyInclusion } from '../../core/audit/merkle.js';
import { parseVerifierKey, verifyNote } from '../../core/audit/signed-note.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { registerAuditExportCommand } from './audit-export.js';
import type { AuditAdmin } from '../deps.js';
import { AUDIT_ENTRY_KINDS, type AuditEntryKind } from '../../core/audit/entry.js';
import type { AuditQuery } from '../../store/audit-log.js';
import { formatTime, renderTable, toJson, truncate } from '../output.js';

/** The JSON `interlock audit proof` prints and `interlock audit check --proof` reads; bytes in base64. */
export interface AuditProofFile {
  /** The signed checkpoint note the proof was made against (informative: `check` uses `--checkpoint`). */
  readonly checkpoint: string;
  readonly index: number;
  /** Tree size of that checkpoint. */
  readonly size: number;
  /** The entry's bytes (RFC 8785 JSON), base64; optional. When present, its leaf hash must be `leafHash`. */
  readonly entry?: string;
  /** The 32-byte leaf hash, base64. */
  readonly leafHash: string;
  /** The audit path, base64 32-byte hashes from the leaf's level upwards. */
  readonly proof: readonly string[];
}

/** Runs `task` on the audit log of the configured database and closes it afterwards. */
async function withAudit<T>(ctx: CliContext, command: Command, task: (audit: AuditAdmin) => Promise<T>): Promise<T> {
  if (ctx.deps.openAudit === undefined) throw new CliError('the audit log is not available in this build of the CLI');
  const audit = await ctx.deps.openAudit(configFor(ctx, command));
  try {
    return await task(audit);
  } finally {
    await audit.close();
  }
}

function bytes(text: unknown, what: string): Uint8Array {
  const decoded = typeof text === 'string' ? decodeBase64(text) : undefined;
  if (decoded === undefined) throw new CliError(`the proof file's ${what} is not canonical base64`);
  return decoded;
}

/** The outcome of {@link checkAuditProof}: which entry of which signed tree, or why not. */
export type AuditProofCheck = { readonly ok: true; readonly origin: string; readonly index: number; readonly size: number } | { readonly ok: false; readonly reason: string };

/**
 * Checks, without a database or any trust in the server, that the checkpoint note `note` is signed by
 * `verifierKey` and that the proof file puts its leaf at its index in that checkpoint's tree.
 *
 * @returns `{ ok: true, origin, index, size }` or `{ ok: false, reason }`; never throws.
 */
export function checkAuditProof(verifierKey: string, note: string, proofFile: unknown): AuditProofCheck {
  try {
    const signed = verifyNote(note, [parseVerifierKey(verifierKey)]);
    if (!signed.ok) return { ok: false, reason: `the checkpoint is not signed by the given key: ${signed.reason}` };
    const checkpoint = parseCheckpoint(signed.text);
    const file = proofFile as Partial<Record<keyof AuditProofFile, unknown>>;
    if (typeof file !== 'object' || file === null || !Number.isSafeInteger(file.index) || !Array.isArray(file.proof)) {
      return { ok: false, reason: 'the proof file is not an `interlock audit proof` JSON object (index, leafHash, proof)' };
    }
    const leaf = bytes(file.leafHash, 'leafHash');
    if (file.entry !== undefined && Buffer.compare(leafHash(bytes(file.entry, 'entry')), leaf) !== 0) return { ok: false, reason: "the proof file's entry does not hash to its leafHash" };
    const proof = file.proof.map((hash, i) => bytes(hash, `proof[${i}]`));
    const verified = verifyInclusion(file.index as number, checkpoint.size, leaf, proof, checkpoint.rootHash);
    return verified.ok ? { ok: true, origin: checkpoint.origin, index: file.index as number, size: checkpoint.size } : { ok: false, reason: `the inclusion proof does not verify against the checkpoint of size ${checkpoint.size}: ${verified.reason}` };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the ${what} file ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const WHOLE = /^(?:0|[1-9][0-9]*)$/;

function wholeNumber(text: string, what: string): number {
  if (!WHOLE.test(text) || !Number.isSafeInteger(Number(text))) throw new CliError(`${what} must be a whole number; got ${JSON.stringify(text)}`, 2);
  return Number(text);
}

/** A time option: ms since the epoch, or an RFC 3339 date or date-time. */
function timeOption(text: string, option: string): number {
  const ms = WHOLE.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw new CliError(`${option} must be ms since the epoch or an RFC 3339 date-time such as 2026-11-21T10:00:00Z; got ${JSON.stringify(text)}`, 2);
  return ms;
}

/** The one-line summary of an entry's facts for the query table. */
function summary(data: Readonly<Record<string, unknown>>): string {
  return truncate(JSON.stringify(data), 80);
}

/**
 * Registers `interlock audit verify|checkpoint|proof|consistency|query|check|export`. The first three work on the database
 * directly (no server needed); `check` needs only files, for an outside auditor; `export` runs the SIEM
 * sinks once (`audit-export.ts`). See docs/audit.md.
 */
export function registerAuditCommand(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('verify, checkpoint, prove and export the tamper-evident audit log');

  audit
    .command('verify')
    .description('check every audit entry and signed checkpoint in the database; exit 1 when tampered')
    .option('--key <verifier key>', "the log's verifier key (default: from <dataDir>/audit-signing.key)")
    .action(async (options: { key?: string }, command: Command) => {
      const result = await withAudit(ctx, command, (log) => log.verify(options.key));
      if (globalOptions(command).json === true) ctx.io.out(toJson(result));
      if (!result.ok) throw new CliError(`audit log tampered at index ${result.firstBadIndex}: ${result.reason}`);
      if (globalOptions(command).json !== true) ctx.io.out(`audit log intact: ${result.size} entries, ${result.checkpoints} signed checkpoint(s) checked`);
    });

  audit
    .command('checkpoint')
    .description('sign and store a checkpoint of the audit log now (key: <dataDir>/audit-signing.key, created on first use)')
    .action(async (_options: unknown, command: Command) => {
      const result = await withAudit(ctx, command, (log) => log.checkpoint());
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson({ size: result.size, rootHash: encodeBase64(result.rootHash), note: result.note, created: result.created }));
        return;
      }
      ctx.io.out(result.note.replace(/\n$/, ''));
    });

  audit
    .command('proof')
    .description('print the inclusion proof of an entry against the latest checkpoint (or --size), as JSON')
    .argument('<index>', '0-based index of the audit entry')
    .option('--size <entries>', 'prove against the stored checkpoint of this tree size')
    .action(async (indexText: string, options: { size?: string }, command: Command) => {
      const index = wholeNumber(indexText, 'index');
      const size = options.size === undefined ? undefined : wholeNumber(options.size, '--size');
      const proof = await withAudit(ctx, command, (log) => log.proof(index, size));
      const file: AuditProofFile = {
        checkpoint: proof.checkpoint,
        index: proof.index,
        size: proof.size,
        entry: encodeBase64(proof.entry),
        leafHash: encodeBase64(proof.leafHash),
        proof: proof.proof.map(encodeBase64),
      };
      ctx.io.out(toJson(file));
    });

  audit
    .command('consistency')
    .description('print the consistency proof that the checkpoint of <to> entries (default the latest) extends the one of <from>, as JSON')
    .argument('<from>', 'tree size of the older stored checkpoint')
    .argument('[to]', 'tree size of the newer stored checkpoint')
    .action(async (fromText: string, toText: string | undefined, _options: unknown, command: Command) => {
      const from = wholeNumber(fromText, 'from');
      const to = toText === undefined ? undefined : wholeNumber(toText, 'to');
      const proof = await withAudit(ctx, command, (log) => log.consistencyProof(from, to));
      ctx.io.out(toJson({ ...proof, proof: proof.proof.map(encodeBase64) }));
    });

  audit
    .command('query')
    .description('list audit entries matching every filter, in log order (JSON Lines with --json)')
    .option('--mission <id>', 'entries of this mission')
    .option('--actor <name>', 'entries whose actor is this principal or engine')
    .option('--tool <name>', 'entries about this tool (calls, results, compensations, verifications)')
    .option('--kind <kinds>', `comma-separated kinds: ${AUDIT_ENTRY_KINDS.join(', ')}`)
    .option('--since <time>', 'entries at or after this time (ms since the epoch or RFC 3339)')
    .option('--until <time>', 'entries before this time (ms since the epoch or RFC 3339)')
    .option('--after <index>', 'entries with an index above this one')
    .option('--limit <n>', 'at most this many entries (default: all)')
    .action(async (options: { mission?: string; actor?: string; tool?: string; kind?: string; since?: string; until?: string; after?: string; limit?: string }, command: Command) => {
      const kinds = options.kind?.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
      const unknown = kinds?.filter((kind) => !(AUDIT_ENTRY_KINDS as readonly string[]).includes(kind)) ?? [];
      if (unknown.length > 0) throw new CliError(`--kind: ${unknown.join(', ')} is not an audit entry kind; expected ${AUDIT_ENTRY_KINDS.join(', ')}`, 2);
      const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : wholeNumber(options.limit, '--limit');
      const filter: AuditQuery = {
        ...(options.mission === undefined ? {} : { missionId: options.mission }),
        ...(options.actor === undefined ? {} : { actor: options.actor }),
        ...(options.tool === undefined ? {} : { tool: options.tool }),
        ...(kinds === undefined ? {} : { kinds: kinds as AuditEntryKind[] }),
        ...(options.since === undefined ? {} : { since: timeOption(options.since, '--since') }),
        ...(options.until === undefined ? {} : { until: timeOption(options.until, '--until') }),
      };
      const json = globalOptions(command).json === true;
      const rows: string[][] = [];
      let count = 0;
      await withAudit(ctx, command, async (log) => {
        let after = options.after === undefined ? undefined : wholeNumber(options.after, '--after');
        while (count < limit) {
          const page = await log.query({ ...filter, ...(after === undefined ? {} : { after }), limit: Math.min(1000, limit - count) });
          for (const record of page.entries) {
            count += 1;
            if (json) ctx.io.out(JSON.stringify({ index: record.index, leafHash: encodeBase64(record.leafHash), entry: record.entry }));
            else rows.push([String(record.index), formatTime(record.entry.at), record.entry.kind, record.entry.actor, record.entry.missionId ?? '-', summary(record.entry.data)]);
          }
          if (page.next === null) break;
          after = page.next;
        }
      });
      if (!json) ctx.io.out(rows.length === 0 ? 'no audit entries match' : renderTable(['index', 'at', 'kind', 'actor', 'mission', 'data'], rows));
    });

  audit
    .command('check')
    .description('standalone: verify a checkpoint signature and an inclusion proof (no database, no server); exit 1 when either fails')
    .requiredOption('--key <verifier key>', "the log's verifier key, obtained out of band")
    .requiredOption('--checkpoint <file>', 'the signed checkpoint note')
    .requiredOption('--proof <file>', 'the JSON of `interlock audit proof`')
    .action(async (options: { key: string; checkpoint: string; proof: string }) => {
      const note = await readText(options.checkpoint, 'checkpoint');
      const proofText = await readText(options.proof, 'proof');
      let parsed: unknown;
      try {
        parsed = JSON.parse(proofText);
      } catch {
        throw new CliError(`the proof file ${options.proof} is not JSON`);
      }
      const result = checkAuditProof(options.key, note, parsed);
      if (!result.ok) throw new CliError(`audit proof rejected: ${result.reason}`);
      ctx.io.out(`audit proof ok: entry ${result.index} is in the ${result.origin} log of ${result.size} entries signed by the given key`);
    });

  registerAuditExportCommand(audit, ctx);
}
