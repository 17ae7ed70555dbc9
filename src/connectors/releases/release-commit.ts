// Recording a deployment in a Git repository: the file `<service>.version` holds the running version,
// committed with the subject `<service>: deploy <version>` or `<service>: rollback to <version>`. Runs
// the `git` program with fixed arguments and no shell, as the changes connector does.
import { execFile } from 'node:child_process';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ConnectorError } from '../../core/errors.js';

/** Longest one `git` run may take, ms. */
const GIT_TIMEOUT_MS = 30_000;

/** Who the commits are by. */
export interface CommitAuthor {
  readonly name: string;
  readonly email: string;
}

/** What {@link commitVersion} records. */
export interface VersionCommit {
  /** The Git working tree. */
  readonly gitDir: string;
  readonly service: string;
  readonly version: string;
  readonly kind: 'deploy' | 'rollback';
  /** The version before, for the message body. */
  readonly previous: string;
  /** Who made the deployment, for the message body. */
  readonly by: string;
  readonly author: CommitAuthor;
  readonly signal?: AbortSignal | undefined;
}

/** The subject of the commit of a deployment: `<service>: deploy <version>` or `<service>: rollback to <version>`. */
function commitSubject(service: string, version: string, kind: 'deploy' | 'rollback'): string {
  return kind === 'deploy' ? `${service}: deploy ${version}` : `${service}: rollback to ${version}`;
}

/** The options before every `git` subcommand: no pager, no optional locks, no hooks, no signing, our identity. */
function gitOptions(gitDir: string, author: CommitAuthor): string[] {
  return [
    '--no-pager', '--no-optional-locks', '--literal-pathspecs', '-C', gitDir,
    '-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`,
    '-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgSign=false', '-c', 'core.autocrlf=false',
  ];
}

/** Runs `git <options> <args>` in `gitDir`; resolves with its stdout, rejects with a {@link ConnectorError} carrying Git's first line. */
function git(gitDir: string, author: CommitAuthor, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...gitOptions(gitDir, author), ...args], { encoding: 'utf8', timeout: GIT_TIMEOUT_MS, maxBuffer: 1_048_576, signal, windowsHide: true }, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'git is not installed (apt-get install git)' : (stderr.split('\n').find((line) => line.trim() !== '') ?? error.message).trim();
      const locked = /index\.lock|Unable to create .*\.lock/.test(stderr);
      reject(new ConnectorError('TOOL_FAILED', `git ${args[0] ?? ''} in ${gitDir} failed: ${reason}`, {
        system: 'git', status: typeof code === 'string' ? code : undefined, retryable: locked || error.killed === true, cause: error,
      }));
    });
  });
}

/**
 * Checks that `gitDir` is (inside) a Git working tree Interlock can commit to, before anything is
 * changed. @throws ConnectorError `TOOL_FAILED` (system `git`) when it is not, or `git` is missing.
 */
export async function checkRepository(gitDir: string, author: CommitAuthor, signal?: AbortSignal): Promise<void> {
  const inside = (await git(gitDir, author, ['rev-parse', '--is-inside-work-tree'], signal)).trim();
  if (inside !== 'true') {
    throw new ConnectorError('TOOL_FAILED', `${gitDir} is not a Git working tree (connectors.releases.gitDir); create it with git init, or point gitDir at one.`, { system: 'git', retryable: false });
  }
}

/**
 * Writes `<gitDir>/<service>.version` (the version and a line end, through a temporary file and a
 * rename) and commits that file alone, with `commitSubject` as the subject and the previous version and
 * who deployed in the body. Idempotent: when the file already holds the version and is committed (a
 * retry), nothing is committed and the last commit that touched the file is returned.
 * @returns the full hash of the commit.
 * @throws ConnectorError `TOOL_FAILED` (system `git`): not a working tree, Git refusing (a held
 *   `index.lock` is retryable), or the file cannot be written (system `releases`).
 */
export async function commitVersion(commit: VersionCommit): Promise<string> {
  const { gitDir, service, version, author, signal } = commit;
  const name = `${service}.version`;
  const file = join(gitDir, name);
  const content = `${version}\n`;
  let existing: string | null = null;
  try {
    existing = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw writeFailed(file, error);
  }
  if (existing !== content) {
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, content, 'utf8');
      await rename(temporary, file);
    } catch (error) {
      throw writeFailed(file, error);
    }
  }
  const changed = (await git(gitDir, author, ['status', '--porcelain', '--untracked-files=all', '--', name], signal)).trim() !== '';
  if (changed) {
    await git(gitDir, author, ['add', '--', name], signal);
    const body = `${commit.kind === 'deploy' ? 'Deployed' : 'Rolled back'} by ${commit.by}; the version before was ${commit.previous}.`;
    await git(gitDir, author, ['commit', '--quiet', '--no-verify', '--no-edit', `--author=${author.name} <${author.email}>`, '-m', commitSubject(service, version, commit.kind), '-m', body, '--', name], signal);
  }
  const hash = (await git(gitDir, author, ['log', '-1', '--format=%H', '--', name], signal)).trim();
  if (!/^[0-9a-f]{40,64}$/.test(hash)) {
    throw new ConnectorError('TOOL_FAILED', `git log in ${gitDir} named no commit of ${name} after committing it.`, { system: 'git', retryable: false });
  }
  return hash;
}

/**
 * The commit that recorded `version` for `service`, without changing anything: the last commit of
 * `<service>.version` when the file holds `version` and has no uncommitted change, else null.
 * @throws ConnectorError `TOOL_FAILED` (system `git`) when Git fails.
 */
export async function committedVersion(gitDir: string, service: string, version: string, author: CommitAuthor, signal?: AbortSignal): Promise<string | null> {
  const name = `${service}.version`;
  let text: string;
  try {
    text = await readFile(join(gitDir, name), 'utf8');
  } catch {
    return null;
  }
  if (text !== `${version}\n`) return null;
  if ((await git(gitDir, author, ['status', '--porcelain', '--untracked-files=all', '--', name], signal)).trim() !== '') return null;
  const hash = (await git(gitDir, author, ['log', '-1', '--format=%H', '--', name], signal)).trim();
  return hash === '' ? null : hash;
}

function writeFailed(file: string, error: unknown): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not write ${file}: ${code ?? String(error)}.`, { system: 'releases', status: code, retryable: false, cause: error });
}
