import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { decodeBase64, encodeBase64 } from '../../core/audit/base64.js';
import { parseCheckpoint } from '../../core/audit/checkpoint.js';
import { leafHash, verifyInclusion } from '../../core/audit/merkle.js';
import { parseVerifierKey, verifyNote } from '../../core/audit/signed-note.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import type { AuditAdmin } from '../deps.js';
import { toJson } from '../output.js';

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

/**
 * Registers `interlock audit verify|checkpoint|proof|check`. The first three work on the database
 * directly (no server needed); `check` needs only files, for an outside auditor. See docs/audit.md.
 */
export function registerAuditCommand(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('verify, checkpoint and prove the tamper-evident audit log');

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
    .description('print the inclusion proof of an entry against the latest checkpoint, as JSON')
    .argument('<index>', '0-based index of the audit entry')
    .action(async (indexText: string, _options: unknown, command: Command) => {
      if (!/^(?:0|[1-9][0-9]*)$/.test(indexText) || !Number.isSafeInteger(Number(indexText))) throw new CliError(`index must be a whole number; got ${JSON.stringify(indexText)}`, 2);
      const proof = await withAudit(ctx, command, (log) => log.proof(Number(indexText)));
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
}
