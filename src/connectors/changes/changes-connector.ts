import { z } from 'zod';
import { InterlockError } from '../../core/errors.js';
import { DEFAULT_RETRY, type AnyToolContract, type ToolContract } from '../../core/tools/tool.js';
import { InstantSchema, isoTime, refineWindow, resolveWindow, type TimeWindow } from '../shared/time-window.js';
import type { ChangesConfig } from './changes-config.js';
import { DEPLOY_KINDS, readDeployLog, type DeployRecord } from './deploy-log.js';
import { readGitHistory, type GitCommit } from './git-history.js';

/** What the changes connector needs: its resolved configuration, and a clock for tests. */
export interface ChangesConnectorOptions {
  readonly git: ReadonlyArray<Readonly<ChangesConfig['git'][number]>>;
  readonly deployLog?: string | undefined;
  readonly maxChanges: number;
  readonly maxRangeMs: number;
  readonly maxReadBytes: number;
  /** The clock, ms since the Unix epoch: the default `until`. @default Date.now */
  readonly now?: () => number;
}

/** Longest a changes tool call may run, ms. */
const TIMEOUT_MS = 30_000;
/** Paths listed per commit. */
const MAX_PATHS = 50;

/**
 * A path prefix inside a repository: relative, `/`-separated, without `.` or `..` segments or
 * control characters. Matched literally, by whole path segments (`deploy` matches `deploy/x.yaml`,
 * not `deployment/x.yaml`).
 */
const PathPrefix = z.string().min(1).max(300)
  .refine((path) => !path.startsWith('/') && !path.startsWith('-') && !path.split('/').some((segment) => segment === '..' || segment === '.') && !/[\x00-\x1f\x7f\\]/.test(path), 'a relative path inside the repository, "/"-separated, without "." or ".." segments')
  .describe('A path prefix inside the repository, e.g. deploy/checkout (whole segments, matched literally).');

const Service = z.string().min(1).max(200).describe('Only changes of this service (Git repositories without a configured service are kept).');

const CommitSchema = z.object({
  repo: z.string(),
  service: z.string().nullable(),
  hash: z.string(),
  merge: z.boolean(),
  author: z.string(),
  authorEmail: z.string(),
  authoredAt: z.string(),
  committedAt: z.string(),
  subject: z.string(),
  paths: z.array(z.string()),
  pathCount: z.int(),
});

const DeploySchema = z.object({
  at: z.string(),
  service: z.string(),
  version: z.string(),
  kind: z.enum(DEPLOY_KINDS),
  by: z.string(),
  previous: z.string().nullable(),
  environment: z.string().nullable(),
  description: z.string().nullable(),
  ref: z.string().nullable(),
});

const ChangeSchema = z.object({
  source: z.string().describe('git:<repository name> or deploy-log.'),
  kind: z.enum(['commit', ...DEPLOY_KINDS]),
  service: z.string().nullable(),
  at: z.string().describe('When the change landed: the committer date of a commit, `at` of a deploy record (RFC 3339, UTC).'),
  summary: z.string(),
  ref: z.string().describe('The commit hash, or the version deployed.'),
});

const Notes = z.array(z.string()).describe('What was left out and why, in sentences.');

/**
 * The changes connector: read-only tools over the change feed around an incident, for change
 * correlation ("a deployment or configuration change shortly before the onset").
 * - `changes.git` (when repositories are configured): commits of deploy and configuration repositories.
 * - `changes.deploys` (when a deploy log is configured): deployment records.
 * - `changes.list`: both, as one list sorted by time.
 *
 * Every call is bounded by `maxRangeMs` (window length), `maxChanges` (the newest are kept, with
 * `truncated`) and, for the deploy log, `maxReadBytes`. docs/connectors/changes.md has the details.
 */
export function createChangesConnector(options: ChangesConnectorOptions): AnyToolContract[] {
  const now = options.now ?? Date.now;
  const { maxChanges, maxRangeMs } = options;
  const repos = options.git;
  const names = repos.map((repo) => repo.name);
  const Limit = z.int().min(1).max(maxChanges).optional().describe(`Most changes returned, the newest kept. Default and maximum ${maxChanges}.`);
  const RepoName = names.length > 0 ? z.enum(names as [string, ...string[]]) : z.never();
  const window = { since: InstantSchema.describe('Start of the window (included).'), until: InstantSchema.optional().describe('End of the window (included). Default: now.') };

  const GitInput = z.object({
    ...window,
    repos: z.array(RepoName).min(1).max(50).optional().describe('Repositories to read, by name. Default: all.'),
    paths: z.array(PathPrefix).min(1).max(20).optional().describe('Only commits that touch one of these path prefixes.'),
    limit: Limit,
  }).strict().superRefine((args, ctx) => refineWindow(args, ctx, maxRangeMs, now()));
  const GitOutput = z.object({ commits: z.array(CommitSchema), truncated: z.boolean(), notes: Notes });
  type GitArgs = z.output<typeof GitInput>;

  const DeploysInput = z.object({
    ...window,
    service: Service.optional(),
    kinds: z.array(z.enum(DEPLOY_KINDS)).min(1).max(3).optional().describe('Only records of these kinds. Default: all.'),
    limit: Limit,
  }).strict().superRefine((args, ctx) => refineWindow(args, ctx, maxRangeMs, now()));
  const DeploysOutput = z.object({
    deploys: z.array(DeploySchema),
    truncated: z.boolean(),
    notes: Notes,
    invalidLines: z.int().describe('Lines read that are not valid deploy records.'),
    invalidExamples: z.array(z.object({ excerpt: z.string(), reason: z.string() })),
  });
  type DeploysArgs = z.output<typeof DeploysInput>;

  const ListInput = z.object({
    ...window,
    service: Service.optional(),
    paths: z.array(PathPrefix).min(1).max(20).optional().describe('Only commits that touch one of these path prefixes (deploy records are not filtered by path).'),
    limit: Limit,
  }).strict().superRefine((args, ctx) => refineWindow(args, ctx, maxRangeMs, now()));
  const ListOutput = z.object({
    changes: z.array(ChangeSchema),
    truncated: z.boolean(),
    notes: Notes,
    sourceErrors: z.array(z.object({ source: z.string(), code: z.string(), message: z.string() })).describe('Sources that could not be read; the changes of the others are returned.'),
  });

  /** Commits of the selected repositories in the window, newest first across them, at most `limit`. */
  const gitCommits = async (window: TimeWindow, selection: { repos?: readonly string[] | undefined; paths?: readonly string[] | undefined; service?: string | undefined }, limit: number, signal: AbortSignal): Promise<{ commits: Array<GitCommit & { repo: string; service: string | null }>; truncated: boolean; notes: string[] }> => {
    const chosen = repos.filter((repo) => (selection.repos === undefined || selection.repos.includes(repo.name)) && (selection.service === undefined || repo.service === undefined || repo.service === selection.service));
    const reads = await Promise.all(chosen.map(async (repo) => {
      const read = await readGitHistory({ repository: repo.path, ref: repo.ref, since: window.since, until: window.until, paths: selection.paths ?? [], limit, maxPaths: MAX_PATHS, signal });
      return { repo, ...read };
    }));
    const all = reads.flatMap(({ repo, commits }) => commits.map((commit) => ({ ...commit, repo: repo.name, service: repo.service ?? null })))
      .sort((a, b) => b.committedAt - a.committedAt || a.repo.localeCompare(b.repo));
    const notes = reads.filter((read) => read.truncated).map((read) => `Repository ${read.repo.name} has more than ${limit} commits in the window; its newest ${limit} were read.`);
    if (all.length > limit) notes.push(`The repositories have more than ${limit} commits in the window together; the newest ${limit} are returned.`);
    return { commits: all.slice(0, limit), truncated: all.length > limit || reads.some((read) => read.truncated), notes };
  };

  const tools: AnyToolContract[] = [];

  if (repos.length > 0) {
    const git: ToolContract<GitArgs, z.output<typeof GitOutput>> = {
      name: 'changes.git',
      description: `Lists the commits that landed on the configured deploy and configuration repositories (${names.join(', ')}) in a time window: hash, author, time, subject and changed paths, optionally only those touching given path prefixes.`,
      input: GitInput,
      output: GitOutput,
      risk: 'read',
      idempotent: true,
      timeoutMs: TIMEOUT_MS,
      retry: DEFAULT_RETRY,
      permission: 'changes:read',
      async execute(args, context) {
        const window = resolveWindow(args, maxRangeMs, now());
        const read = await gitCommits(window, { repos: args.repos, paths: args.paths }, args.limit ?? maxChanges, context.signal);
        const commits = read.commits.reverse().map((commit) => ({
          repo: commit.repo,
          service: commit.service,
          hash: commit.hash,
          merge: commit.parents.length > 1,
          author: commit.author,
          authorEmail: commit.authorEmail,
          authoredAt: isoTime(commit.authoredAt),
          committedAt: isoTime(commit.committedAt),
          subject: commit.subject,
          paths: [...commit.paths],
          pathCount: commit.pathCount,
        }));
        return { commits, truncated: read.truncated, notes: read.notes };
      },
    };
    tools.push(git);
  }

  const deployLog = options.deployLog;
  if (deployLog !== undefined) {
    const deploys: ToolContract<DeploysArgs, z.output<typeof DeploysOutput>> = {
      name: 'changes.deploys',
      description: 'Lists the deployments, rollbacks and configuration changes recorded in the deploy log in a time window, optionally of one service: time, service, version, previous version, kind and who made it.',
      input: DeploysInput,
      output: DeploysOutput,
      risk: 'read',
      idempotent: true,
      timeoutMs: TIMEOUT_MS,
      retry: DEFAULT_RETRY,
      permission: 'changes:read',
      target: (args) => ({ service: args.service ?? null }),
      async execute(args, context) {
        const window = resolveWindow(args, maxRangeMs, now());
        const kinds = args.kinds;
        const limit = args.limit ?? maxChanges;
        const read = await readDeployLog(deployLog, { ...window, service: args.service, limit: kinds === undefined ? limit : options.maxChanges, maxBytes: options.maxReadBytes, signal: context.signal });
        const records = kinds === undefined ? read.records : read.records.filter((record) => kinds.includes(record.kind));
        const kept = records.slice(Math.max(0, records.length - limit));
        return {
          deploys: kept.map(deployOutput),
          truncated: read.truncated || kept.length < records.length,
          notes: kept.length < records.length ? [...read.notes, `The window has more than ${limit} records of these kinds; the newest ${limit} are returned.`] : read.notes,
          invalidLines: read.invalidLines,
          invalidExamples: read.invalidExamples,
        };
      },
    };
    tools.push(deploys);
  }

  const list: ToolContract<z.output<typeof ListInput>, z.output<typeof ListOutput>> = {
    name: 'changes.list',
    description: 'Lists every change in a time window, oldest first: commits of the configured repositories and records of the deploy log, each with its source, service, time, summary and ref. Use it to find a deployment or configuration change shortly before an incident\'s onset.',
    input: ListInput,
    output: ListOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: TIMEOUT_MS,
    retry: DEFAULT_RETRY,
    permission: 'changes:read',
    target: (args) => ({ service: args.service ?? null }),
    async execute(args, context) {
      const window = resolveWindow(args, maxRangeMs, now());
      const limit = args.limit ?? maxChanges;
      type Change = z.output<typeof ChangeSchema> & { readonly ms: number };
      const changes: Change[] = [];
      const notes: string[] = [];
      const sourceErrors: Array<{ source: string; code: string; message: string }> = [];
      const failures: unknown[] = [];
      let truncated = false;
      let sources = 0;

      if (repos.length > 0) {
        sources++;
        try {
          const read = await gitCommits(window, { paths: args.paths, service: args.service }, limit, context.signal);
          truncated ||= read.truncated;
          notes.push(...read.notes);
          for (const commit of read.commits) changes.push({ source: `git:${commit.repo}`, kind: 'commit', service: commit.service, at: isoTime(commit.committedAt), ms: commit.committedAt, summary: commitSummary(commit), ref: commit.hash });
        } catch (error) {
          if (context.signal.aborted) throw error;
          failures.push(error);
          sourceErrors.push(describeFailure('git', error));
        }
      }
      if (deployLog !== undefined) {
        sources++;
        try {
          const read = await readDeployLog(deployLog, { ...window, service: args.service, limit, maxBytes: options.maxReadBytes, signal: context.signal });
          truncated ||= read.truncated;
          notes.push(...read.notes);
          for (const record of read.records) changes.push({ source: 'deploy-log', kind: record.kind, service: record.service, at: isoTime(record.at), ms: record.at, summary: deploySummary(record), ref: record.version });
        } catch (error) {
          if (context.signal.aborted) throw error;
          failures.push(error);
          sourceErrors.push(describeFailure('deploy-log', error));
        }
      }
      if (sources === 0) notes.push('No change source is configured: set connectors.changes.git or connectors.changes.deployLog.');
      if (sources > 0 && failures.length === sources) throw failures[0];

      changes.sort((a, b) => b.ms - a.ms || a.source.localeCompare(b.source));
      if (changes.length > limit) {
        truncated = true;
        notes.push(`The sources have more than ${limit} changes in the window together; the newest ${limit} are returned.`);
      }
      return {
        changes: changes.slice(0, limit).reverse().map(({ ms: _ms, ...change }) => change),
        truncated,
        notes,
        sourceErrors,
      };
    },
  };
  tools.push(list);
  return tools;
}

function deployOutput(record: DeployRecord): z.output<typeof DeploySchema> {
  return { ...record, at: isoTime(record.at) };
}

/** `subject (author; 3 paths: a, b, c)`. */
function commitSummary(commit: GitCommit): string {
  const shown = commit.paths.slice(0, 3).join(', ');
  const more = commit.pathCount > 3 ? ', …' : '';
  const paths = commit.pathCount === 0 ? 'no paths' : `${commit.pathCount} path${commit.pathCount === 1 ? '' : 's'}: ${shown}${more}`;
  return `${commit.subject} (${commit.author}; ${paths})`;
}

/** `deploy checkout 1.4.1 → 1.4.2 by ci in prod: description`. */
function deploySummary(record: DeployRecord): string {
  const versions = record.previous === null ? record.version : `${record.previous} → ${record.version}`;
  const verb = record.kind === 'config' ? 'config change' : record.kind;
  return `${verb} ${record.service} ${versions} by ${record.by}${record.environment === null ? '' : ` in ${record.environment}`}${record.description === null ? '' : `: ${record.description}`}`;
}

function describeFailure(source: string, error: unknown): { source: string; code: string; message: string } {
  if (error instanceof InterlockError) return { source, code: error.code, message: error.message };
  return { source, code: 'TOOL_FAILED', message: error instanceof Error ? error.message : String(error) };
}

