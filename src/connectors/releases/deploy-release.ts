// A deployment of one release: switch `current`, restart the service's processes under supervisord,
// commit `<service>.version`, append a deploy log record. Used by the releases connector's tools, and
// reusable by anything else that deploys releases laid out this way (the reference estate's faults).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { namespec, settledInfo } from '../shared/supervisord-access.js';
import type { ProcessInfo, SupervisorClient } from '../supervisor/supervisor-client.js';
import { appendDeployRecord, hasRecordLine, renderDeployRecord } from './deploy-record.js';
import type { ProbeResult } from '../../core/tools/tool.js';
import { checkRepository, commitVersion, committedVersion, type CommitAuthor } from './release-commit.js';
import { checkVersion, fsFailed, readCurrent, refused, RELEASES_SYSTEM, switchCurrent } from './release-store.js';

/** Longest wait for a process another start left STARTING to settle, ms. */
const START_SETTLE_MS = 30_000;

/** A process after the restart of a deployment. */
export interface RestartedProcess {
  /** As configured: `name` or `group:name`. */
  readonly process: string;
  readonly pid: number;
  /** When it started, ms since the Unix epoch (supervisord keeps whole seconds). */
  readonly startedAt: number;
}

/** What {@link deployRelease} did. */
export interface DeployReleaseResult {
  readonly service: string;
  /** The version now current. */
  readonly version: string;
  /** The version current before the first attempt (equal to `version` for a no-op). */
  readonly previous: string;
  readonly kind: 'deploy' | 'rollback';
  /** False when `version` already was current with every process running: nothing was touched. */
  readonly changed: boolean;
  /** The commit of `<service>.version`, or null without a Git repository or for a no-op. */
  readonly ref: string | null;
  /** When the deployment was decided and recorded (`at` of the deploy log record), ms since the Unix epoch. */
  readonly at: number;
  /** The processes restarted on the new release, in order, with their new pids; empty for a no-op. */
  readonly restarted: RestartedProcess[];
}

/** Where the releases live and how to act on them: the resolved `connectors.releases` settings and a supervisord client. */
export interface ReleaseEnvironment {
  /** Directory holding `<service>/<version>/` and `<service>/current`. */
  readonly root: string;
  /** The JSON Lines deploy log appended to. */
  readonly deployLog: string;
  /** A Git working tree to commit `<service>.version` to; unset: no commit. */
  readonly gitDir?: string | undefined;
  readonly author: CommitAuthor;
  readonly supervisor: SupervisorClient;
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** One deployment asked of {@link deployRelease}. */
export interface DeployReleaseRequest {
  readonly service: string;
  /** supervisord processes of the service (`name` or `group:name`), restarted in this order. */
  readonly processes: readonly string[];
  /** The version to make current: a directory `<root>/<service>/<version>/` whose `release.json` names it. */
  readonly version: string;
  /** @default 'deploy' */
  readonly kind?: 'deploy' | 'rollback';
  /** Who deploys, for the record and the commit, e.g. `interlock:<missionId>`. */
  readonly by: string;
  /**
   * Makes the deployment safe to run again after a crash or timeout: the facts of the first attempt
   * (the version before, the pids before, the time) are kept in `<root>/.interlock/deploys/` under the
   * SHA-256 of the key, so a second run finishes the first instead of deploying again.
   */
  readonly idempotencyKey?: string | undefined;
  /** The argument named in refusals about the version. @default 'version' */
  readonly field?: string;
  readonly signal?: AbortSignal | undefined;
}

/** What the first attempt of an idempotency key saw and decided. */
const Journal = z.object({
  service: z.string(),
  version: z.string(),
  previous: z.string(),
  kind: z.enum(['deploy', 'rollback']),
  at: z.int(),
  by: z.string(),
  /** Pid of each process before the switch, null when it was not running. */
  pidsBefore: z.record(z.string(), z.int().nullable()),
});
/** The record of the first attempt of one idempotency key. */
export type DeployJournal = z.output<typeof Journal>;

/** The file keeping the journal of `key`. */
function journalFile(root: string, key: string): string {
  return join(root, '.interlock', 'deploys', `${createHash('sha256').update(key).digest('hex')}.json`);
}

/** The journal the first attempt of `key` wrote, or undefined when there was none (or it is unreadable). */
export async function readJournal(root: string, key: string): Promise<DeployJournal | undefined> {
  let text: string;
  try {
    text = await readFile(journalFile(root, key), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsFailed(`read the deploy journal of ${key}`, error);
  }
  try {
    const parsed = Journal.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function writeJournal(root: string, key: string, journal: DeployJournal): Promise<void> {
  const file = journalFile(root, key);
  try {
    await mkdir(join(root, '.interlock', 'deploys'), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify(journal), 'utf8');
    await rename(`${file}.tmp`, file);
  } catch (error) {
    throw fsFailed('keep the deploy journal (nothing was changed)', error);
  }
}

/**
 * True when process info `info` is a run started by this deployment: RUNNING, another pid than before
 * the switch, started in or after the second of `at` (supervisord keeps whole seconds).
 */
function startedSince(info: ProcessInfo, pidBefore: number | null | undefined, at: number): boolean {
  return info.statename === 'RUNNING' && info.pid > 0 && info.pid !== pidBefore && info.start * 1000 >= Math.floor(at / 1000) * 1000;
}

/**
 * Deploys release `version` of a service (DESIGN.md: narrow verbs with their own record):
 * 1. checks the version directory (a real directory under `root` whose `release.json` names this
 *    version) and, with `gitDir`, the Git working tree, before changing anything;
 * 2. refuses a service without a `current` symlink (a first release is set up by hand);
 * 3. does nothing when `version` already is current and every process is RUNNING (`changed: false`);
 * 4. points `<root>/<service>/current` to `version` atomically (temporary symlink, rename);
 * 5. restarts each process (stop, then start and wait until RUNNING), skipping one already started
 *    since the switch on an earlier attempt; when one does not come up, switches back to the previous
 *    version, restarts the processes again and fails, saying whether going back worked;
 * 6. with `gitDir`, commits `<service>.version` (`<service>: deploy <version>` or
 *    `<service>: rollback to <version>`) and takes its hash as the record's `ref`;
 * 7. appends `{"at","service","version","previous","kind","by","ref"}` to the deploy log
 *    (docs/connectors/changes.md, "Deploy log"), once per idempotency key.
 *
 * With `idempotencyKey`, running the same request again finishes the first run (see
 * {@link DeployReleaseRequest.idempotencyKey}). Calls for one service must not overlap (the connector
 * serialises its tools per service).
 *
 * @throws ConnectorError `TOOL_FAILED` with `details.field` (`field`, or `service`) when the version
 *   cannot be deployed or the service has no current release; `TOOL_FAILED`/`TOOL_TIMEOUT` from
 *   supervisord (system `supervisor`), Git (system `git`), the deploy log (system `deploy-log`) or the
 *   file system (system `releases`), with `outcomeUnknown` when the release may have changed.
 */
export async function deployRelease(env: ReleaseEnvironment, request: DeployReleaseRequest): Promise<DeployReleaseResult> {
  const { root, supervisor } = env;
  const { service, processes, version, signal } = request;
  const kind = request.kind ?? 'deploy';
  const now = env.now ?? Date.now;
  const never = new AbortController().signal;
  const sig = signal ?? never;

  await checkVersion(root, service, version, request.field ?? 'version');
  let journal = request.idempotencyKey === undefined ? undefined : await readJournal(root, request.idempotencyKey);
  if (journal !== undefined && (journal.service !== service || journal.version !== version)) {
    throw new ConnectorError('TOOL_FAILED', `Idempotency key ${request.idempotencyKey ?? ''} was first used to deploy ${journal.service} ${journal.version}, not ${service} ${version}; use a new key.`, { system: RELEASES_SYSTEM, retryable: false });
  }
  if (journal === undefined) {
    const previous = await readCurrent(root, service);
    if (previous === null) {
      throw refused('service', `${service} has no current release (no symlink ${join(root, service, 'current')}); point it at the running version by hand once, then deploy.`);
    }
    if (env.gitDir !== undefined) await checkRepository(env.gitDir, env.author, signal);
    const pidsBefore: Record<string, number | null> = {};
    for (const process of processes) {
      const info = await supervisor.getProcessInfo(namespec(process), sig);
      pidsBefore[process] = info.pid > 0 ? info.pid : null;
    }
    journal = { service, version, previous, kind, at: now(), by: request.by, pidsBefore };
    if (request.idempotencyKey !== undefined) await writeJournal(root, request.idempotencyKey, journal);
  }
  const first = journal;

  if (first.previous === version) {
    const infos = await Promise.all(processes.map((p) => supervisor.getProcessInfo(namespec(p), sig)));
    if (infos.every((info) => info.statename === 'RUNNING')) {
      return { service, version, previous: version, kind: first.kind, changed: false, ref: null, at: first.at, restarted: [] };
    }
  }

  const current = await readCurrent(root, service);
  if (current !== version) await switchCurrent(root, service, version);

  let restarted: RestartedProcess[];
  try {
    restarted = await restartAll(supervisor, processes, (process, info) => startedSince(info, first.pidsBefore[process], first.at), sig);
  } catch (error) {
    throw await revert(env, request, first, error, sig);
  }

  const ref = env.gitDir === undefined
    ? null
    : await commitVersion({ gitDir: env.gitDir, service, version, kind: first.kind, previous: first.previous, by: first.by, author: env.author, signal }).catch((error: unknown) => {
      throw partial(error, `${service} ${version} is current and running, but committing ${service}.version failed`);
    });
  const line = renderDeployRecord({ at: first.at, service, version, previous: first.previous, kind: first.kind, by: first.by, ref: ref ?? undefined });
  if (request.idempotencyKey === undefined || !(await hasRecordLine(env.deployLog, line, signal))) {
    await appendDeployRecord(env.deployLog, line).catch((error: unknown) => {
      throw partial(error, `${service} ${version} is current and running${ref === null ? '' : ` (commit ${ref})`}, but appending its deploy record failed`);
    });
  }
  return { service, version, previous: first.previous, kind: first.kind, changed: true, ref, at: first.at, restarted };
}

/**
 * Re-observes whether the deployment of idempotency key `key` took effect, without changing anything:
 * `applied` (with its result) when `current` points to its version, every process runs a process
 * started since the switch, the commit (with `gitDir`) and the deploy record are there; `not_applied`
 * when nothing was done yet or the deployment is part-way (running the same call again is safe and
 * finishes it); `unknown` when `current` points to a third version.
 */
export async function probeDeployment(env: ReleaseEnvironment, processes: readonly string[], key: string, signal: AbortSignal): Promise<ProbeResult<DeployReleaseResult>> {
  const journal = await readJournal(env.root, key);
  if (journal === undefined) return { state: 'not_applied' };
  const { service, version, previous } = journal;
  const current = await readCurrent(env.root, service);
  if (current !== version) {
    return current === previous ? { state: 'not_applied' } : { state: 'unknown', reason: `${service}'s current points to ${current ?? 'nothing'}, neither ${previous} (before) nor ${version} (deployed)` };
  }
  const infos = await Promise.all(processes.map((p) => env.supervisor.getProcessInfo(namespec(p), signal)));
  if (previous === version) {
    const running = infos.every((info) => info.statename === 'RUNNING');
    return running ? { state: 'applied', result: { service, version, previous, kind: journal.kind, changed: false, ref: null, at: journal.at, restarted: [] } } : { state: 'not_applied' };
  }
  if (!infos.every((info, index) => startedSince(info, journal.pidsBefore[processes[index] ?? ''], journal.at))) return { state: 'not_applied' };
  const ref = env.gitDir === undefined ? null : await committedVersion(env.gitDir, service, version, env.author, signal);
  if (env.gitDir !== undefined && ref === null) return { state: 'not_applied' };
  const line = renderDeployRecord({ at: journal.at, service, version, previous, kind: journal.kind, by: journal.by, ref: ref ?? undefined });
  if (!(await hasRecordLine(env.deployLog, line, signal))) return { state: 'not_applied' };
  const restarted = infos.map((info, index) => ({ process: processes[index] ?? '', pid: info.pid, startedAt: info.start * 1000 }));
  return { state: 'applied', result: { service, version, previous, kind: journal.kind, changed: true, ref, at: journal.at, restarted } };
}

/**
 * Restarts each process in order (stop, then start and wait until RUNNING) unless `done` says the
 * current run already is the new one; returns each process' new pid and start time.
 * @throws ConnectorError when a stop or start fails, or a process is not RUNNING after its start.
 */
async function restartAll(supervisor: SupervisorClient, processes: readonly string[], done: (process: string, info: ProcessInfo) => boolean, signal: AbortSignal): Promise<RestartedProcess[]> {
  const restarted: RestartedProcess[] = [];
  for (const process of processes) {
    const spec = namespec(process);
    let info = await supervisor.getProcessInfo(spec, signal);
    if (!done(process, info)) {
      await supervisor.stopProcess(spec, signal).catch((error: unknown) => {
        if (!(error instanceof ConnectorError && error.systemStatus === 'NOT_RUNNING')) throw error;
      });
      await supervisor.startProcess(spec, signal).catch((error: unknown) => {
        if (!(error instanceof ConnectorError && error.systemStatus === 'ALREADY_STARTED')) throw error;
      });
      info = await settledInfo(supervisor, process, START_SETTLE_MS, signal);
    }
    if (info.statename !== 'RUNNING' || info.pid <= 0) {
      throw new ConnectorError('TOOL_FAILED', `${process} is ${info.statename} after its start${info.spawnerr === '' ? '' : ` (${info.spawnerr})`}.`, { system: 'supervisor', status: info.statename, retryable: false });
    }
    restarted.push({ process, pid: info.pid, startedAt: info.start * 1000 });
  }
  return restarted;
}

/**
 * After a restart failed on the new release: points `current` back to the previous version and
 * restarts the processes on it. Returns the error to throw: not retryable, saying what failed and
 * whether the service is back on the previous version (`outcomeUnknown` when going back failed too).
 */
async function revert(env: ReleaseEnvironment, request: DeployReleaseRequest, journal: DeployJournal, error: unknown, signal: AbortSignal): Promise<ConnectorError> {
  const { service, version } = request;
  const reason = error instanceof Error ? error.message : String(error);
  if (journal.previous === version) {
    return new ConnectorError('TOOL_FAILED', `Restarting ${service} on ${version} failed: ${reason} There is no other version to go back to; check its processes.`, {
      system: RELEASES_SYSTEM, retryable: false, outcomeUnknown: true, cause: error,
    });
  }
  try {
    await switchCurrent(env.root, service, journal.previous);
    await restartAll(env.supervisor, request.processes, () => false, signal);
  } catch (again) {
    return new ConnectorError('TOOL_FAILED', `Restarting ${service} on ${version} failed: ${reason} Going back to ${journal.previous} failed too: ${again instanceof Error ? again.message : String(again)} Check the service by hand.`, {
      system: RELEASES_SYSTEM, retryable: false, outcomeUnknown: true, cause: error,
    });
  }
  return new ConnectorError('TOOL_FAILED', `Restarting ${service} on ${version} failed: ${reason} ${service} is back on ${journal.previous} (current points to it and its processes were restarted); nothing was recorded.`, {
    system: RELEASES_SYSTEM, retryable: false, cause: error, details: { field: request.field ?? 'version', revertedTo: journal.previous },
  });
}

/** A failure after the release was switched and restarted: retrying the same call finishes the record. */
function partial(error: unknown, what: string): ConnectorError {
  const inner = error instanceof ConnectorError ? error : undefined;
  return new ConnectorError(inner?.code === 'TOOL_TIMEOUT' ? 'TOOL_TIMEOUT' : 'TOOL_FAILED', `${what}: ${error instanceof Error ? error.message : String(error)} Run the same call again to finish the record.`, {
    system: inner?.system ?? RELEASES_SYSTEM, status: inner?.systemStatus, retryable: true, outcomeUnknown: true, cause: error,
  });
}
