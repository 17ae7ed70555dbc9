import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { toIssues } from '../../core/validation.js';
import { readLinesBackward } from '../shared/read-backward.js';
import { InstantSchema, instantMs, ORDER_TOLERANCE_MS } from '../shared/time-window.js';

/**
 * The deploy log: a JSON Lines file, one deployment record per line, appended by whatever deploys
 * (a CI job, a deploy script, Interlock itself). Read from its end, so a large file costs only the
 * bytes of the window asked for. docs/connectors/changes.md describes the format.
 */

/** The kinds of change a deploy record describes. */
export const DEPLOY_KINDS = ['deploy', 'rollback', 'config'] as const;

/**
 * One line of the deploy log. `version` or its synonym `release` is required; other fields than
 * these are allowed and ignored.
 */
export const DeployRecordSchema = z
  .object({
    at: InstantSchema,
    service: z.string().min(1).max(200),
    version: z.string().min(1).max(200).optional(),
    release: z.string().min(1).max(200).optional(),
    kind: z.enum(DEPLOY_KINDS),
    by: z.string().min(1).max(200),
    previous: z.string().min(1).max(200).optional(),
    environment: z.string().min(1).max(100).optional(),
    description: z.string().max(1000).optional(),
    ref: z.string().min(1).max(200).optional(),
  })
  // Checked even when other fields are wrong (`when`), so every problem of a line is named at once.
  .refine((record: { version?: unknown; release?: unknown }) => record.version !== undefined || record.release !== undefined, { path: ['version'], message: 'version (or release) is required', when: () => true });

/** A deploy record as the tools return it. */
export interface DeployRecord {
  /** ms since the Unix epoch. */
  readonly at: number;
  readonly service: string;
  /** The version now running (`version`, else `release`). */
  readonly version: string;
  readonly kind: (typeof DEPLOY_KINDS)[number];
  readonly by: string;
  readonly previous: string | null;
  readonly environment: string | null;
  readonly description: string | null;
  /** A commit or change ID the record names. */
  readonly ref: string | null;
}

/** A line of the deploy log that is not a valid record. */
export interface InvalidDeployLine {
  /** The line's first 100 characters. */
  readonly excerpt: string;
  /** What is wrong with it: not JSON, or each wrong field. */
  readonly reason: string;
}

/** What {@link readDeployLog} found. */
export interface DeployLogRead {
  /** Records in the window, oldest first, at most `limit` (the newest are kept). */
  readonly records: DeployRecord[];
  /** True when the window had more records than `limit`, or the read stopped at `maxBytes` before the window's start. */
  readonly truncated: boolean;
  /** Sentences for a reader about what was left out and why. */
  readonly notes: string[];
  /** Lines in the part read that are not valid records (not counting an incomplete last line). */
  readonly invalidLines: number;
  /** The first few invalid lines, newest first. */
  readonly invalidExamples: InvalidDeployLine[];
}

/** Invalid lines described in a read's `invalidExamples`. */
const MAX_INVALID_EXAMPLES = 3;

/**
 * The records of the deploy log at `path` with `at` in `[since, until]`, optionally of one service.
 * Reads from the end of the file, at most `maxBytes`, and stops at the first valid record more than
 * {@link ORDER_TOLERANCE_MS} older than `since`. A last line without a line end is a record being
 * written: it is skipped without counting as invalid (and read once its line end is there).
 *
 * Throws `TOOL_FAILED` (system `deploy-log`) when the file cannot be read: missing (not retryable),
 * unreadable, or a directory.
 */
export async function readDeployLog(path: string, query: { since: number; until: number; service?: string | undefined; limit: number; maxBytes: number; signal?: AbortSignal | undefined }): Promise<DeployLogRead> {
  const found: DeployRecord[] = []; // newest first, as read
  const invalidExamples: InvalidDeployLine[] = [];
  let invalidLines = 0;
  let skippedPartial = false;
  let more = false;
  let read;
  try {
    read = await readLinesBackward(path, { maxBytes: query.maxBytes, signal: query.signal }, (line, info) => {
      if (info.unterminated) {
        skippedPartial = true;
        return undefined;
      }
      const parsed = parseDeployLine(line);
      if (!parsed.ok) {
        invalidLines++;
        if (invalidExamples.length < MAX_INVALID_EXAMPLES) invalidExamples.push({ excerpt: line.slice(0, 100), reason: parsed.reason });
        return undefined;
      }
      const record = parsed.record;
      if (record.at < query.since - ORDER_TOLERANCE_MS) return 'stop';
      if (record.at < query.since || record.at > query.until) return undefined;
      if (query.service !== undefined && record.service !== query.service) return undefined;
      if (found.length >= query.limit) {
        more = true;
        return 'stop';
      }
      found.push(record);
      return undefined;
    });
  } catch (error) {
    if (query.signal?.aborted === true) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'it does not exist; check connectors.changes.deployLog' : code === 'EISDIR' ? 'it is a directory' : code ?? (error instanceof Error ? error.message : String(error));
    throw new ConnectorError('TOOL_FAILED', `Could not read the deploy log ${path}: ${reason}.`, { system: 'deploy-log', status: code, retryable: code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE', cause: error });
  }
  const notes: string[] = [];
  const cut = !read.stopped && !read.reachedStart;
  if (more) notes.push(`The window has more than ${query.limit} records; the newest ${query.limit} are returned.`);
  if (cut) notes.push(`Only the last ${read.bytesRead} bytes of the deploy log were read (maxReadBytes); older records in the window may be missing.`);
  if (skippedPartial) notes.push('The last line of the deploy log is incomplete (being written) and was skipped.');
  if (invalidLines > 0) notes.push(`${invalidLines} line(s) of the deploy log are not valid records and were skipped.`);
  // Records appended out of order by a few minutes: sort by time, oldest first.
  const records = found.sort((a, b) => a.at - b.at);
  return { records, truncated: more || cut, notes, invalidLines, invalidExamples };
}

/** One line parsed as a deploy record, or why it is not one. */
export function parseDeployLine(line: string): { ok: true; record: DeployRecord } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = DeployRecordSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, reason: toIssues(parsed.error).map((issue) => `${issue.path}: ${issue.message}`).join('; ') };
  }
  const data = parsed.data;
  return {
    ok: true,
    record: {
      at: instantMs(data.at),
      service: data.service,
      version: (data.version ?? data.release) as string,
      kind: data.kind,
      by: data.by,
      previous: data.previous ?? null,
      environment: data.environment ?? null,
      description: data.description ?? null,
      ref: data.ref ?? null,
    },
  };
}
