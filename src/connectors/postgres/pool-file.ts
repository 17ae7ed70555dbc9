import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';

const SYSTEM = 'postgres';

/** A pool settings file: a JSON object whose `max` is the pool size; other keys are kept as they are. */
const PoolSettings = z.looseObject({ max: z.int().min(1) });

/**
 * What a pool change kept before its first attempt, so retries and the compensation know the size
 * before the call even after a crash between the write and the recorded result.
 */
const PoolRecord = z.object({ service: z.string(), previous: z.int().min(1) }).strict();
export type PoolRecord = z.output<typeof PoolRecord>;

/**
 * The pool size `max` in the pool settings file `file` (`{"max": N}`).
 * @throws ConnectorError `TOOL_FAILED` (system `postgres`, not retryable) when the file is missing, is
 *   not JSON, or has no positive integer `max`; retryable for EBUSY and EAGAIN.
 */
export async function readPoolSize(file: string): Promise<number> {
  return (await readSettings(file)).max;
}

/**
 * Sets `max` in the pool settings file `file` to `size`, keeping its other keys, through a temporary
 * file in the same directory and a rename, so the service never reads half a file. Writes nothing
 * when `max` already is `size`.
 * @returns the size before.
 * @throws ConnectorError `TOOL_FAILED` as {@link readPoolSize}, or when the file cannot be written.
 */
export async function writePoolSize(file: string, size: number): Promise<number> {
  const settings = await readSettings(file);
  if (settings.max === size) return size;
  try {
    await atomicWrite(file, `${JSON.stringify({ ...settings, max: size })}\n`);
  } catch (error) {
    throw failed(`write the pool settings file ${file}`, error);
  }
  return settings.max;
}

/** The record of the pool change with idempotency key `key` on `file`, or undefined when there is none. */
export async function readPoolRecord(file: string, key: string): Promise<PoolRecord | undefined> {
  let text: string;
  try {
    text = await readFile(recordFile(file, key), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw failed('read the record of an earlier attempt', error);
  }
  try {
    const parsed = PoolRecord.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps `record` for the pool change with idempotency key `key` on `file`, in
 * `<dir of file>/.interlock/pool-<sha256(key)>.json`.
 * @throws ConnectorError `TOOL_FAILED` when it cannot be written (nothing was changed then).
 */
export async function writePoolRecord(file: string, key: string, record: PoolRecord): Promise<void> {
  const path = recordFile(file, key);
  try {
    await mkdir(dirname(path), { recursive: true });
    await atomicWrite(path, JSON.stringify(record));
  } catch (error) {
    throw failed('keep the pool size before the change', error);
  }
}

function recordFile(file: string, key: string): string {
  return join(dirname(file), '.interlock', `pool-${createHash('sha256').update(`${basename(file)}\n${key}`).digest('hex')}.json`);
}

async function readSettings(file: string): Promise<z.output<typeof PoolSettings>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConnectorError('TOOL_FAILED', `The pool settings file ${file} does not exist; the service creates it, or write {"max": <baseline>} there (connectors.postgres.services[].pool.file).`, { system: SYSTEM, status: 'ENOENT', retryable: false });
    }
    throw failed(`read the pool settings file ${file}`, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = PoolSettings.safeParse(json);
  if (!parsed.success) {
    throw new ConnectorError('TOOL_FAILED', `${file} is not a pool settings file (a JSON object with a positive integer "max"); fix it or the path in connectors.postgres.services[].pool.file.`, { system: SYSTEM, retryable: false });
  }
  return parsed.data;
}

function failed(what: string, error: unknown): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not ${what}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
    system: SYSTEM, status: code, retryable: code === 'EBUSY' || code === 'EAGAIN', cause: error,
  });
}

/** Writes `content` to `file` through a temporary file in the same directory and a rename. */
async function atomicWrite(file: string, content: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, content, 'utf8');
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}
