// Wiring of the audit log for the CLI's database-direct `interlock audit` commands: the database (as
// `openIdentity` opens it), the log's signing key in the data directory, and the log on top.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InterlockConfig } from '../config/index.js';
import { generateSigner, parseSignerKey, type Ed25519NoteSigner } from '../core/audit/signed-note.js';
import { InputError } from '../core/errors.js';
import type { AuditAdmin } from '../cli/deps.js';
import { PgAuditLog } from '../store/index.js';
import { createLogger, openDatabase } from './main.js';

/** The audit log's origin: the first line of its checkpoints and the name of its signing key. */
export const AUDIT_ORIGIN = 'interlock/audit';

/** Name of the file in the data directory that holds the audit log's Ed25519 signer key. */
export const AUDIT_SIGNING_KEY_FILE = 'audit-signing.key';

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/**
 * The audit log's signer from `<dataDir>/audit-signing.key` (a `PRIVATE+KEY+interlock/audit+...`
 * line). With `create`, a missing file is created first with a new key (`generateSigner`), mode 0600,
 * never overwriting one written meanwhile; without it, a missing file gives undefined.
 *
 * @throws InputError `AUDIT_KEY_INVALID` when the file does not hold a valid signer key.
 */
export async function loadAuditSigner(dataDir: string, options: { readonly create: boolean }): Promise<Ed25519NoteSigner | undefined> {
  const file = join(dataDir, AUDIT_SIGNING_KEY_FILE);
  try {
    return parseSignerKey((await readFile(file, 'utf8')).trim());
  } catch (error) {
    if (!isMissing(error) || !options.create) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
  const { signerKey } = generateSigner(AUDIT_ORIGIN);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  }
  return parseSignerKey((await readFile(file, 'utf8')).trim());
}

/**
 * Opens the database (migrating it first) and returns the audit log on it for `interlock audit ...`:
 * checkpoints are signed with the data directory's key (created on first use, see
 * {@link loadAuditSigner}) under origin {@link AUDIT_ORIGIN}. `close()` closes the database. With the
 * embedded PostgreSQL, no `interlock serve` may be running on the same data directory.
 *
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`
 */
export async function openAudit(config: InterlockConfig): Promise<AuditAdmin> {
  const database = await openDatabase(config, createLogger({ ...config, log: { level: 'warn' } }, 'stderr'));
  const log = new PgAuditLog(database.handle.db);
  const signingKeyFile = join(config.dataDir, AUDIT_SIGNING_KEY_FILE);
  return {
    signingKeyFile,
    size: () => log.size(),
    checkpoint: async () => log.checkpoint((await loadAuditSigner(config.dataDir, { create: true }))!, AUDIT_ORIGIN),
    proof: (index) => log.proof(index),
    verify: async (verifierKey, onProgress) => {
      const key = verifierKey ?? (await loadAuditSigner(config.dataDir, { create: false }))?.verifierKey;
      if (key === undefined) {
        throw new InputError('INPUT_INVALID', `There is no audit signing key at ${signingKeyFile} to take the verifier key from: pass the log's verifier key with --key.`, [
          { path: '--key', message: 'is required without a signing key in the data directory', expected: 'a verifier key <name>+<key ID>+<key>' },
        ]);
      }
      return log.verify(key, onProgress);
    },
    close: () => database.close(),
  };
}
