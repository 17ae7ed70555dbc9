// The audit log as a service of a running Interlock and of the CLI's database-direct
// `interlock audit` commands (`openAudit` in main.ts): the log on the database, the checkpoint
// signing key from `audit.signingKeyFile`, periodic checkpoints, and the reads the API serves.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditConfig } from '../config/index.js';
import { generateSigner, parseSignerKey, type Ed25519NoteSigner } from '../core/audit/signed-note.js';
import { InputError, isInterlockError } from '../core/errors.js';
import type { PgAuditLog, AuditCheckpointRecord, AuditCheckpointResult, AuditConsistencyProof, AuditPage, AuditProof, AuditQuery, AuditVerification } from '../store/index.js';

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

function readSigner(text: string, file: string, origin: string): Ed25519NoteSigner {
  const signer = parseSignerKey(text.trim());
  if (signer.name !== origin) {
    throw new InputError('AUDIT_KEY_INVALID', `The audit signing key in ${file} is named ${JSON.stringify(signer.name)}, but audit.origin is ${JSON.stringify(origin)}: a log's key carries its origin's name. Point audit.signingKeyFile at the key of this log, or set audit.origin to the key's name.`, [
      { path: 'audit.signingKeyFile', message: 'holds the key of another log', expected: `a key named ${origin}`, received: signer.name },
    ]);
  }
  return signer;
}

/**
 * The audit log's signer from `file` (one `PRIVATE+KEY+<origin>+...` line, c2sp.org/signed-note).
 * With `create`, a missing file is created first with a new Ed25519 key (`generateSigner`), mode 0600
 * (its directory is created if missing, with the default mode: by default it is the data directory,
 * which the embedded PostgreSQL's own user must be able to enter), never overwriting one written
 * meanwhile; without it, a missing file gives undefined.
 *
 * @throws InputError `AUDIT_KEY_INVALID` when the file does not hold a valid signer key, or the key's
 *   name is not `origin`.
 */
export async function loadAuditSigner(file: string, origin: string, options: { readonly create: boolean }): Promise<Ed25519NoteSigner | undefined> {
  try {
    return readSigner(await readFile(file, 'utf8'), file, origin);
  } catch (error) {
    if (!isMissing(error)) throw error;
    if (!options.create) return undefined;
  }
  const { signerKey } = generateSigner(origin);
  await mkdir(dirname(file), { recursive: true });
  try {
    await writeFile(file, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  }
  return readSigner(await readFile(file, 'utf8'), file, origin);
}

/** The minimal logger the service writes to (pino's `Logger` fits). */
export interface AuditLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * The audit log of one database with this installation's signing key: checkpoints (on demand and
 * every `audit.checkpointIntervalMs` while started), inclusion and consistency proofs, queries and
 * verification. What `GET/POST /v1/audit/*` and `interlock audit ...` call.
 */
export class AuditService {
  readonly log: PgAuditLog;
  readonly origin: string;
  readonly signingKeyFile: string;
  readonly #logger: AuditLogger | undefined;
  #signer: Ed25519NoteSigner | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(log: PgAuditLog, config: Omit<AuditConfig, 'export'>, logger?: AuditLogger) {
    this.log = log;
    this.origin = config.origin;
    this.signingKeyFile = config.signingKeyFile;
    this.#logger = logger;
  }

  /** The signer, loaded (and created when `create`) on first use. */
  async #loadSigner(create: boolean): Promise<Ed25519NoteSigner | undefined> {
    this.#signer ??= await loadAuditSigner(this.signingKeyFile, this.origin, { create });
    return this.#signer;
  }

  /** The log's verifier key (`<origin>+<key ID>+<key>`), creating the signing key on first use. */
  async verifierKey(): Promise<string> {
    return (await this.#loadSigner(true))!.verifierKey;
  }

  /** Number of entries. */
  size(): Promise<number> {
    return this.log.size();
  }

  /**
   * Signs and stores a checkpoint of the current size, creating the signing key on first use.
   * @throws `AUDIT_TAMPERED`, `AUDIT_KEY_MISMATCH`, `AUDIT_KEY_INVALID` (see `PgAuditLog.checkpoint`)
   */
  async checkpoint(): Promise<AuditCheckpointResult> {
    return this.log.checkpoint((await this.#loadSigner(true))!, this.origin);
  }

  latestCheckpoint(): Promise<AuditCheckpointRecord | undefined> {
    return this.log.latestCheckpoint();
  }

  /** @throws `AUDIT_PROOF_RANGE`, `AUDIT_CHECKPOINT_MISSING`, `AUDIT_TAMPERED` (see `PgAuditLog.proof`) */
  proof(index: number, size?: number): Promise<AuditProof> {
    return this.log.proof(index, size);
  }

  /** @throws `AUDIT_PROOF_RANGE`, `AUDIT_CHECKPOINT_MISSING`, `AUDIT_TAMPERED` (see `PgAuditLog.consistencyProof`) */
  consistencyProof(from: number, to?: number): Promise<AuditConsistencyProof> {
    return this.log.consistencyProof(from, to);
  }

  /** @throws `INPUT_INVALID` naming the field (see `PgAuditLog.query`) */
  query(query: AuditQuery): Promise<AuditPage> {
    return this.log.query(query);
  }

  /**
   * Verifies the whole log against `verifierKey`, or, when undefined, against the key in
   * `audit.signingKeyFile` (never created here).
   * @throws InputError `INPUT_INVALID` when undefined and there is no key file; `AUDIT_KEY_INVALID`
   */
  async verify(verifierKey: string | undefined, onProgress?: (checked: number) => void): Promise<AuditVerification> {
    const key = verifierKey ?? (await this.#loadSigner(false))?.verifierKey;
    if (key === undefined) {
      throw new InputError('INPUT_INVALID', `There is no audit signing key at ${this.signingKeyFile} to take the verifier key from: pass the log's verifier key with --key.`, [
        { path: '--key', message: 'is required without a signing key in audit.signingKeyFile', expected: 'a verifier key <name>+<key ID>+<key>' },
      ]);
    }
    return this.log.verify(key, onProgress);
  }

  /**
   * Signs a checkpoint every `intervalMs` when entries were added since the last one. Failures are
   * logged (`AUDIT_TAMPERED` and `AUDIT_KEY_MISMATCH` at error level: the log is not being
   * checkpointed) and retried at the next tick. Loads (or creates) the signing key first, so a bad
   * key fails the start. Safe to call more than once.
   */
  async start(intervalMs: number | null): Promise<void> {
    await this.#loadSigner(true);
    if (intervalMs === null || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, intervalMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      const [size, latest] = await Promise.all([this.log.size(), this.log.latestCheckpoint()]);
      if (latest !== undefined && latest.size === size) return;
      const made = await this.checkpoint();
      if (made.created) this.#logger?.info({ size: made.size }, 'audit checkpoint signed');
    } catch (error) {
      this.#logger?.error({ err: error, code: isInterlockError(error) ? error.code : undefined }, 'could not sign an audit checkpoint; retrying at the next interval');
    }
  }

  /** Stops the periodic checkpoints and waits for one in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
