// The estate's own release changes: seeding at `up` (the first `current` link, which the releases
// connector refuses to create) and `inject bad-release` / `heal`, which go through the releases
// connector's `deployRelease`, the same code Interlock's `releases.deploy` and `releases.rollback` run.
import { execFile } from 'node:child_process';
import { appendFile, readlink, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deployRelease as deployReleaseOf } from '../connectors/releases/deploy-release.js';
import type { SupervisorClient } from '../connectors/supervisor/supervisor-client.js';
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

/** Who the estate's own deploys are by, in the deployments repository. */
const ESTATE_AUTHOR = { name: 'Interlock estate', email: 'estate@interlock.invalid' } as const;

/**
 * Deploys `version` of release track `track` for the estate's own changes (`inject bad-release`,
 * `heal`), with the releases connector's `deployRelease`, so the estate and Interlock change releases
 * the same way: `current` switched atomically, each of `programs` that is running restarted (a
 * stopped one, such as the spare catalog-2, is left stopped), a commit of `<track>.version` and the
 * deploy log record.
 * @throws ConnectorError `TOOL_FAILED` when the release does not exist or does not start (see
 *   `src/connectors/releases/deploy-release.ts`).
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
  const signal = AbortSignal.timeout(60_000);
  const running: string[] = [];
  for (const program of options.programs) {
    const info = await supervisor.getProcessInfo(program, signal);
    if (info.statename === 'RUNNING' || info.statename === 'STARTING' || info.statename === 'BACKOFF') running.push(program);
  }
  const result = await deployReleaseOf(
    { root: paths.releasesDir, deployLog: paths.deployLog, gitDir: paths.deploymentsRepo, author: ESTATE_AUTHOR, supervisor },
    { service: track, processes: running, version, kind, by, signal },
  );
  return { track, version, previous: result.previous, changed: result.changed, restarted: result.restarted.map((r) => r.process), at: result.at };
}
