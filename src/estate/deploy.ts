// The estate's own deploy, for `inject bad-release`, `heal` and seeding: switch a release track's
// `current` link, restart the programs running it, append a deploy log record, commit
// `<track>.version` to the deployments repository. The releases connector (src/connectors/releases/)
// does the same for Interlock as a governed tool; the lead may merge the two later.
import { execFile } from 'node:child_process';
import { appendFile, readlink, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SupervisorClient } from '../connectors/supervisor/supervisor-client.js';
import { InputError } from '../core/errors.js';
import { trackDir, type EstatePaths } from './estate-layout.js';

const run = promisify(execFile);

/** Who the estate's commits are by. */
const GIT_AUTHOR = ['-c', 'user.name=Interlock estate', '-c', 'user.email=estate@interlock.invalid', '-c', 'commit.gpgsign=false'];

/** The version `releases/<track>/current` points at, or null when there is no link. */
export async function currentRelease(paths: EstatePaths, track: string): Promise<string | null> {
  try {
    return await readlink(join(trackDir(paths, track), 'current'));
  } catch {
    return null;
  }
}

/** Points `releases/<track>/current` at `version` atomically (a new link renamed over the old one). */
export async function switchCurrent(paths: EstatePaths, track: string, version: string): Promise<void> {
  const dir = trackDir(paths, track);
  const temporary = join(dir, `.current-${process.pid}-${Date.now()}`);
  await symlink(version, temporary);
  await rename(temporary, join(dir, 'current'));
}

/** Runs `git -C <repo> <args>` and returns its standard output. */
async function git(repo: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, ...GIT_AUTHOR, ...args], { encoding: 'utf8' });
  return stdout;
}

/** Creates the deployments repository (branch `main`) when it does not exist yet. */
export async function initDeploymentsRepo(repo: string): Promise<void> {
  try {
    await stat(join(repo, '.git'));
    return;
  } catch {
    // not a repository yet
  }
  await run('git', ['init', '-q', '-b', 'main', repo]);
}

/**
 * Writes `<track>.version` (the version and a line end) in the deployments repository and commits it
 * with the subject `<track>: deploy <version>` or `<track>: rollback to <version>` (the releases
 * connector's subjects); returns the commit hash.
 */
export async function commitVersion(repo: string, track: string, version: string, kind: 'deploy' | 'rollback'): Promise<string> {
  const file = `${track}.version`;
  await writeFile(join(repo, file), `${version}\n`);
  await git(repo, ['add', '--', file]);
  await git(repo, ['commit', '-q', '--no-verify', '--allow-empty', '-m', kind === 'deploy' ? `${track}: deploy ${version}` : `${track}: rollback to ${version}`]);
  return (await git(repo, ['rev-parse', 'HEAD'])).trim();
}

/** One deploy log record, in the field order the releases connector writes. */
export interface DeployLogRecord {
  /** ms since the Unix epoch (written as RFC 3339 UTC). */
  readonly at: number;
  readonly service: string;
  readonly version: string;
  readonly previous?: string | undefined;
  readonly kind: 'deploy' | 'rollback' | 'config';
  readonly by: string;
  readonly ref?: string | undefined;
  readonly description?: string | undefined;
}

/**
 * Appends one JSON Lines record to the deploy log (the changes connector's format,
 * docs/connectors/changes.md, "Deploy log").
 */
export async function appendDeployLog(file: string, record: DeployLogRecord): Promise<void> {
  const { at, service, version, previous, kind, by, ref, description } = record;
  const line = { at: new Date(at).toISOString(), service, version, ...(previous === undefined ? {} : { previous }), kind, by, ...(ref === undefined ? {} : { ref }), ...(description === undefined ? {} : { description }) };
  await appendFile(file, `${JSON.stringify(line)}\n`);
}

/** What {@link deployRelease} did. */
export interface DeployResult {
  readonly track: string;
  readonly version: string;
  readonly previous: string | null;
  /** False when `current` already pointed at `version` (nothing was done). */
  readonly changed: boolean;
  /** The programs restarted. */
  readonly restarted: readonly string[];
  /** When the new release was running (the last restart returned), ms since the epoch. */
  readonly at: number;
}

/**
 * Deploys `version` of release track `track`: switches `current`, restarts each of `programs` that
 * is running (through supervisord, waiting for RUNNING), then commits `<track>.version` and appends
 * the deploy log record `{at, service, version, previous, kind, by, ref}`.
 * @throws InputError `INPUT_INVALID` when the release directory does not exist.
 */
export async function deployRelease(options: {
  readonly paths: EstatePaths;
  readonly supervisor: SupervisorClient;
  readonly track: string;
  readonly version: string;
  readonly programs: readonly string[];
  readonly kind: 'deploy' | 'rollback';
  readonly by: string;
}): Promise<DeployResult> {
  const { paths, supervisor, track, version, kind, by } = options;
  try {
    await stat(join(trackDir(paths, track), version, 'release.json'));
  } catch {
    throw new InputError('INPUT_INVALID', `There is no release ${version} of ${track} in ${trackDir(paths, track)}.`, [{ path: 'version', message: 'no such release', received: version }]);
  }
  const previous = await currentRelease(paths, track);
  if (previous === version) return { track, version, previous, changed: false, restarted: [], at: Date.now() };
  await switchCurrent(paths, track, version);
  const signal = AbortSignal.timeout(60_000);
  const restarted: string[] = [];
  for (const program of options.programs) {
    const info = await supervisor.getProcessInfo(program, signal);
    if (info.statename !== 'RUNNING' && info.statename !== 'STARTING' && info.statename !== 'BACKOFF') continue;
    await supervisor.stopProcess(program, signal);
    await supervisor.startProcess(program, signal);
    restarted.push(program);
  }
  const at = Date.now();
  const ref = await commitVersion(paths.deploymentsRepo, track, version, kind);
  await appendDeployLog(paths.deployLog, { at, service: track, version, previous: previous ?? undefined, kind, by, ref });
  return { track, version, previous, changed: true, restarted, at };
}
