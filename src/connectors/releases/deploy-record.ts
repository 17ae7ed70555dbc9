// The records the releases connector appends to the deploy log, and what it reads back from it. The
// format is the changes connector's (docs/connectors/changes.md, "Deploy log"), parsed by its code.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConnectorError } from '../../core/errors.js';
import { parseDeployLine, type DeployRecord } from '../changes/deploy-log.js';
import { readLinesBackward } from '../shared/read-backward.js';

/** Bytes read from the end of the deploy log when looking for records. */
const DEPLOY_LOG_READ_BYTES = 16 * 1_048_576;

/** A deployment the connector made, as one deploy log record. */
export interface ReleaseRecord {
  /** When the switch happened, ms since the Unix epoch. */
  readonly at: number;
  readonly service: string;
  /** The version now running. */
  readonly version: string;
  /** The version running before. */
  readonly previous: string;
  readonly kind: 'deploy' | 'rollback';
  /** Who made it, e.g. `interlock:<missionId>`. */
  readonly by: string;
  /** The commit of `<service>.version`, when there is a Git repository. */
  readonly ref?: string | undefined;
}

/**
 * One line of the deploy log, line end included: `{"at","service","version","previous","kind","by","ref"}`
 * in that order, `at` in RFC 3339 UTC with ms, `ref` left out when there is none.
 * @see docs/connectors/changes.md, "Deploy log"
 */
export function renderDeployRecord(record: ReleaseRecord): string {
  const { at, service, version, previous, kind, by, ref } = record;
  return `${JSON.stringify({ at: new Date(at).toISOString(), service, version, previous, kind, by, ...(ref === undefined ? {} : { ref }) })}\n`;
}

function logFailed(path: string, what: string, error: unknown, outcomeUnknown: boolean): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not ${what} the deploy log ${path}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
    system: 'deploy-log', status: code, retryable: code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE', outcomeUnknown, cause: error,
  });
}

/**
 * Appends `line` (one record with its line end) to the deploy log at `path` in one write with
 * `O_APPEND`, creating the file and its directory when missing, and syncs it to disk. When the file
 * does not end with a line end (another writer stopped mid-line), a line end is written first so the
 * record stays a line of its own.
 * @throws ConnectorError `TOOL_FAILED` (system `deploy-log`).
 */
export async function appendDeployRecord(path: string, line: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'a+');
    try {
      const { size } = await handle.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      await handle.appendFile(`${prefix}${line}`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw logFailed(path, 'append to', error, true);
  }
}

/**
 * The valid records of `service` in the last {@link DEPLOY_LOG_READ_BYTES} of the deploy log, newest
 * (last written) first, at most `limit`; `[]` when the file does not exist yet.
 * @throws ConnectorError `TOOL_FAILED` (system `deploy-log`) when it cannot be read.
 */
export async function recentRecords(path: string, service: string, limit: number, signal?: AbortSignal): Promise<DeployRecord[]> {
  const records: DeployRecord[] = [];
  if (limit <= 0) return records;
  try {
    await readLinesBackward(path, { maxBytes: DEPLOY_LOG_READ_BYTES, signal }, (line, info) => {
      if (info.unterminated) return undefined;
      const parsed = parseDeployLine(line);
      if (!parsed.ok || parsed.record.service !== service) return undefined;
      records.push(parsed.record);
      return records.length >= limit ? 'stop' : undefined;
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    if (signal?.aborted === true) throw error;
    throw logFailed(path, 'read', error, false);
  }
  return records;
}

/** True when the last {@link DEPLOY_LOG_READ_BYTES} of the deploy log hold `line` (without its line end) as a line. */
export async function hasRecordLine(path: string, line: string, signal?: AbortSignal): Promise<boolean> {
  const wanted = line.replace(/\n$/, '');
  let found = false;
  try {
    await readLinesBackward(path, { maxBytes: DEPLOY_LOG_READ_BYTES, signal }, (text) => {
      if (text !== wanted) return undefined;
      found = true;
      return 'stop';
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    if (signal?.aborted === true) throw error;
    throw logFailed(path, 'read', error, false);
  }
  return found;
}

/**
 * The version a rollback of `service` goes back to, according to the deploy log: the `previous` of the
 * newest `deploy` record whose `version` is `current` (rollback records are skipped, so a second
 * rollback goes one release further back instead of undoing the first). A reason instead when the log
 * has no such record or it names no previous version.
 */
export async function rollbackTarget(path: string, service: string, current: string, signal?: AbortSignal): Promise<{ ok: true; version: string; record: DeployRecord } | { ok: false; reason: string }> {
  let found: DeployRecord | undefined;
  try {
    await readLinesBackward(path, { maxBytes: DEPLOY_LOG_READ_BYTES, signal }, (line, info) => {
      if (info.unterminated) return undefined;
      const parsed = parseDeployLine(line);
      if (!parsed.ok || parsed.record.service !== service || parsed.record.kind !== 'deploy' || parsed.record.version !== current) return undefined;
      found = parsed.record;
      return 'stop';
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, reason: `the deploy log ${path} does not exist yet` };
    if (signal?.aborted === true) throw error;
    throw logFailed(path, 'read', error, false);
  }
  if (found === undefined) return { ok: false, reason: `the deploy log has no deploy record of ${service} ${current} in its last ${DEPLOY_LOG_READ_BYTES} bytes` };
  if (found.previous === null || found.previous === current) return { ok: false, reason: `the deploy record of ${service} ${current} (${new Date(found.at).toISOString()}) names no earlier version` };
  return { ok: true, version: found.previous, record: found };
}
