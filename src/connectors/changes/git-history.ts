import { execFile, type ExecFileException } from 'node:child_process';
import { ConnectorError } from '../../core/errors.js';

/**
 * The commits of a Git repository in a time window, read by the `git` program itself (`git log`),
 * with fixed arguments and no shell: the caller chooses only the window, a count and literal path
 * prefixes, all validated before they get here and passed after `--end-of-options` / `--`.
 */

/** One commit of the first-parent history of a branch. */
export interface GitCommit {
  /** Full object name (40 or 64 hex). */
  readonly hash: string;
  /** Parent hashes; two or more for a merge. */
  readonly parents: readonly string[];
  readonly author: string;
  readonly authorEmail: string;
  /** When it was written, ms since the Unix epoch (Git keeps seconds). */
  readonly authoredAt: number;
  /** When it landed on the branch (committer date), ms since the Unix epoch. */
  readonly committedAt: number;
  /** First line of the message. */
  readonly subject: string;
  /** Paths it changed (for a merge: against its first parent), at most `maxPaths`. */
  readonly paths: readonly string[];
  /** Number of paths it changed, also those beyond `maxPaths`. */
  readonly pathCount: number;
}

/** What to read with {@link readGitHistory}. */
export interface GitHistoryQuery {
  /** Directory of the repository (working tree or bare). */
  readonly repository: string;
  /** Revision whose history is read, already validated (see `GIT_REF`). */
  readonly ref: string;
  /** Window on the committer date, ms since the Unix epoch, both ends included. */
  readonly since: number;
  readonly until: number;
  /** Literal path prefixes (directories or files) the commits must touch; empty: any. */
  readonly paths: readonly string[];
  /** Most commits returned, newest first. */
  readonly limit: number;
  /** Most paths listed per commit. @default 50 */
  readonly maxPaths?: number;
  readonly signal?: AbortSignal | undefined;
  /** The program run. @default 'git' */
  readonly git?: string;
}

/** Most bytes of `git log` output read; a larger answer fails, asking for a narrower window. */
const MAX_OUTPUT_BYTES = 64 * 1_048_576;

const RECORD = '\x1e';
const FIELD = '\x1f';
/** hash, parents, author name, author email, author time, committer time, subject (`%x1e` starts a record). */
const FORMAT = '--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%ct%x1f%s';

/**
 * The arguments of the `git` run for `query`: the first-parent history of `ref` (what landed on the
 * branch, a merge as one change with the paths it brought in), committer dates in the window (Git's
 * second precision, widened to whole seconds), changed paths NUL-separated, paths as literal
 * pathspecs. Options that could run other programs or read the terminal are off.
 */
export function gitLogArguments(query: GitHistoryQuery): string[] {
  return [
    '--no-pager', '--literal-pathspecs', '--no-optional-locks', '-C', query.repository,
    'log', '--no-show-signature', '--no-ext-diff', '--no-textconv', '--no-color', '--no-decorate', '--no-renames',
    '--first-parent', '--diff-merges=first-parent', '--name-only', '-z', FORMAT,
    `--since=@${Math.floor(query.since / 1000)}`, `--until=@${Math.ceil(query.until / 1000)}`,
    `--max-count=${query.limit + 1}`,
    '--end-of-options', query.ref, '--', ...query.paths,
  ];
}

/**
 * Parses the output of {@link gitLogArguments}: records start with `\x1e`, header fields are
 * separated by `\x1f` and end with NUL, then the changed paths, each ending with NUL.
 */
export function parseGitLog(output: string, maxPaths = 50): GitCommit[] {
  const commits: GitCommit[] = [];
  for (const record of output.split(RECORD)) {
    if (record.trim() === '') continue;
    const headerEnd = record.indexOf('\0');
    const header = (headerEnd < 0 ? record : record.slice(0, headerEnd)).split(FIELD);
    const [hash, parents, author, authorEmail, authoredAt, committedAt, ...subject] = header;
    if (hash === undefined || !/^[0-9a-f]{40,64}$/.test(hash)) continue;
    const paths = headerEnd < 0 ? [] : record.slice(headerEnd + 1).replace(/^\n/, '').split('\0').filter((path) => path !== '');
    commits.push({
      hash,
      parents: (parents ?? '').split(' ').filter((parent) => parent !== ''),
      author: author ?? '',
      authorEmail: authorEmail ?? '',
      authoredAt: Number(authoredAt) * 1000,
      committedAt: Number(committedAt) * 1000,
      subject: subject.join(FIELD),
      paths: paths.slice(0, maxPaths),
      pathCount: paths.length,
    });
  }
  return commits;
}

/**
 * The commits of `query.ref` whose committer date is in the window, newest first, at most `limit`
 * (`truncated` when there were more).
 *
 * Throws `TOOL_FAILED` (system `git`, not retryable) when `git` is not installed, the directory is
 * not a repository (or one Git refuses as owned by another user), the ref does not exist, or the
 * output is larger than 64 MiB; the message has Git's own first line. Throws the signal's reason when
 * it aborts (the `git` process is killed).
 */
export async function readGitHistory(query: GitHistoryQuery): Promise<{ commits: GitCommit[]; truncated: boolean }> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(query.git ?? 'git', gitLogArguments(query), { encoding: 'utf8', maxBuffer: MAX_OUTPUT_BYTES, signal: query.signal, windowsHide: true }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(gitError(error, stderr, query));
    });
  });
  const commits = parseGitLog(output, query.maxPaths).filter((commit) => commit.committedAt >= query.since && commit.committedAt <= query.until);
  return { commits: commits.slice(0, query.limit), truncated: commits.length > query.limit };
}

function gitError(error: ExecFileException, stderr: string, query: GitHistoryQuery): Error {
  if (error.name === 'AbortError') return query.signal?.reason instanceof Error ? query.signal.reason : error;
  if (error.code === 'ENOENT') {
    return new ConnectorError('TOOL_FAILED', 'The git program was not found; install Git on the Interlock host (it reads the configured repositories).', { system: 'git', status: 'ENOENT', retryable: false, cause: error });
  }
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
    return new ConnectorError('TOOL_FAILED', `git log of ${query.repository} printed more than ${MAX_OUTPUT_BYTES} bytes; narrow the window or the paths.`, { system: 'git', retryable: false, cause: error });
  }
  const said = stderr.split('\n').map((line) => line.trim()).find((line) => line !== '') ?? error.message;
  return new ConnectorError('TOOL_FAILED', `git log of ${query.repository} (${query.ref}) failed: ${said}`, { system: 'git', status: typeof error.code === 'number' ? error.code : undefined, retryable: false, cause: error });
}
