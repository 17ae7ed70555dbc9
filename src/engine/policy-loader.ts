import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compilePolicySet, type CompilePolicyOptions, type CompiledPolicySet, type PolicyFile } from '../core/policy/compile.js';
import { formatPolicyIssue, PolicyError } from '../core/policy/policy-errors.js';
import { InterlockError } from '../core/errors.js';
import type { AuditLog } from '../core/ports.js';

/**
 * Policy sets from a directory: every `*.yaml` / `*.yml` file in it (not in subdirectories, and not
 * the `*.test.yaml` files of `interlock policy test`), in file-name order, compiled as one set. A
 * {@link PolicySource} holds the set in force and swaps in a new one only when it is valid.
 */

/** A loaded policy directory: the compiled set and the files it came from. */
export interface LoadedPolicySet {
  readonly evaluator: CompiledPolicySet;
  /** The policy files read, as `<dir>/<name>`, sorted by name. */
  readonly files: readonly string[];
}

/** True for a policy file name: `*.yaml` or `*.yml`, but not a test file `*.test.yaml`. */
export function isPolicyFileName(name: string): boolean {
  return /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name) && !name.startsWith('.');
}

/** Options of {@link loadPolicyDirectory}. */
export interface LoadPolicyDirectoryOptions extends CompilePolicyOptions {
  /**
   * How to name the directory in problems and in `files` (the CLI passes the path relative to the
   * working directory, while reading from the absolute one). @default dir
   */
  readonly displayDir?: string;
}

/**
 * Reads and compiles every policy file of `dir`. An empty directory is a set with no rules.
 *
 * @throws PolicyError `POLICY_UNREADABLE` when the directory or a file cannot be read.
 * @throws PolicyError `POLICY_INVALID` listing every problem of every file with file:line:column
 *   (the file as `<displayDir>/<name>`).
 */
export async function loadPolicyDirectory(dir: string, options: LoadPolicyDirectoryOptions): Promise<LoadedPolicySet> {
  const display = options.displayDir ?? dir;
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && isPolicyFileName(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    throw unreadable(`cannot read policy directory ${display}`, error);
  }
  const files: PolicyFile[] = [];
  for (const name of names) {
    const path = join(display, name);
    try {
      files.push({ path, text: await readFile(join(dir, name), 'utf8') });
    } catch (error) {
      throw unreadable(`cannot read policy file ${path}`, error);
    }
  }
  return { evaluator: compilePolicySet(files, options), files: files.map((file) => file.path) };
}

function unreadable(what: string, error: unknown): PolicyError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
  return new PolicyError('POLICY_UNREADABLE', `${what}: ${reason}; check the path`, [], { cause: error });
}

/** The logger a policy source writes to (pino's `Logger` fits). */
export interface PolicyLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of {@link createPolicySource}. */
export interface PolicySourceOptions extends CompilePolicyOptions {
  /** The policy directory; absent: a set with no rules (the defaults decide everything). */
  readonly dir?: string;
  readonly logger: PolicyLogger;
  /**
   * Where each change of the set is recorded (`policy.changed`) before it takes effect: a reload the
   * audit log cannot record is refused and the set in force stays. Absent: changes are not recorded.
   */
  readonly audit?: AuditLog;
  /** Clock of the audit entries, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Called after a reload swapped in a set with a different digest. */
  readonly onChange?: (current: CompiledPolicySet, previous: CompiledPolicySet) => void;
  /**
   * Reload when something in the directory changes (`fs.watch`, debounced). Any change triggers a
   * reload, so a Kubernetes ConfigMap's symlink swap is seen too; an unchanged digest is a no-op.
   * @default false
   */
  readonly watch?: boolean;
  /** Quiet time after the last change before a watched directory is reloaded, ms. @default 250 */
  readonly debounceMs?: number;
}

/** What a reload did. */
export type PolicyReloadResult =
  | {
      readonly ok: true;
      /** False when the new set has the digest of the one in force (nothing swapped). */
      readonly changed: boolean;
      readonly digest: string;
      readonly files: readonly string[];
    }
  | {
      readonly ok: false;
      /** Why the new set was rejected (`POLICY_INVALID` or `POLICY_UNREADABLE`), every problem in `issues`. */
      readonly error: PolicyError;
      /** Digest of the set still in force. */
      readonly digest: string;
    };

/** The policy set in force, reloadable. */
export interface PolicySource {
  /** The directory, or null when none is configured. */
  readonly dir: string | null;
  /** The set in force; pass `() => source.current()` to the engine so each review round reads it once. */
  current(): CompiledPolicySet;
  /**
   * Reads and compiles the directory again and swaps the new set in only when it is valid; a
   * rejected set leaves the set in force untouched and is logged with every problem at
   * file:line:column. A set with a new digest is first recorded in the audit log as
   * `policy.changed` by `by` (the principal, `sighup`, `watch`; default `interlock`). Concurrent
   * calls run one after the other.
   * @throws InterlockError `AUDIT_UNAVAILABLE` when the change cannot be recorded: the set in force stays.
   */
  reload(by?: string): Promise<PolicyReloadResult>;
  /** Stops watching. Idempotent. */
  close(): void;
}

/**
 * Loads the policy set in force and returns a source that can reload it.
 * @throws PolicyError `POLICY_INVALID` or `POLICY_UNREADABLE` when the initial set cannot be loaded:
 *   Interlock must not start with policies it could not read.
 */
export async function createPolicySource(options: PolicySourceOptions): Promise<PolicySource> {
  const { dir, logger } = options;
  const load = async (): Promise<LoadedPolicySet> => (dir === undefined ? { evaluator: compilePolicySet([], options), files: [] } : loadPolicyDirectory(dir, options));

  const initial = await load();
  let current = initial.evaluator;
  logger.info({ dir: dir ?? null, digest: current.digest, files: initial.files, rules: current.rules.length }, dir === undefined ? 'no policy directory configured: the review defaults decide' : 'policy set loaded');

  let queue: Promise<unknown> = Promise.resolve();
  const reloadNow = async (by: string): Promise<PolicyReloadResult> => {
    let loaded: LoadedPolicySet;
    try {
      loaded = await load();
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      logger.error(
        { dir: dir ?? null, code: error.code, digest: current.digest, issues: error.issues.map(formatPolicyIssue) },
        `policy set rejected, the previous set (${current.digest.slice(0, 12)}) stays in force: ${error.message}`,
      );
      return { ok: false, error, digest: current.digest };
    }
    const previous = current;
    if (loaded.evaluator.digest === previous.digest) return { ok: true, changed: false, digest: previous.digest, files: loaded.files };
    if (options.audit !== undefined) {
      const data = { previousDigest: previous.digest, digest: loaded.evaluator.digest, dir: dir ?? null, files: loaded.files, rules: loaded.evaluator.rules.length };
      try {
        await options.audit.append([{ schemaVersion: 1, kind: 'policy.changed', actor: by, missionId: null, at: (options.now ?? Date.now)(), data }]);
      } catch (error) {
        logger.error({ dir: dir ?? null, err: error, digest: previous.digest, rejected: loaded.evaluator.digest }, `policy set not reloaded: the audit log could not record the change, so the previous set (${previous.digest.slice(0, 12)}) stays in force`);
        throw new InterlockError('AUDIT_UNAVAILABLE', 'The audit log could not record the policy change, so the policy set was not reloaded and the previous set stays in force; try again shortly.', { cause: error, details: { digest: previous.digest } });
      }
    }
    current = loaded.evaluator;
    logger.info({ dir: dir ?? null, digest: current.digest, previous: previous.digest, files: loaded.files, rules: current.rules.length }, 'policy set reloaded');
    options.onChange?.(current, previous);
    return { ok: true, changed: true, digest: current.digest, files: loaded.files };
  };
  const reload = (by = 'interlock'): Promise<PolicyReloadResult> => {
    const next = queue.then(() => reloadNow(by));
    queue = next.catch(() => undefined);
    return next;
  };

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.watch === true && dir !== undefined) {
    const debounceMs = options.debounceMs ?? 250;
    watcher = watch(dir, { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        reload('watch').catch((error: unknown) => logger.error({ dir, err: error }, 'policy reload failed'));
      }, debounceMs);
    });
    watcher.on('error', (error) => logger.warn({ dir, err: error }, 'watching the policy directory failed; call reload() (or restart) to pick up changes'));
  }

  return {
    dir: dir ?? null,
    current: () => current,
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
