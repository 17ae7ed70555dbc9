import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { AnyToolContract, ToolContract } from '../../core/tools/tool.js';

/** A path relative to the connector's root, without `..` segments. */
const RelativePath = z.string().min(1).max(500)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'a path relative to the files root, without ".." segments')
  .describe('Path relative to the files root, e.g. checkout/pool.yaml.');

const ReadInput = z.object({ path: RelativePath }).strict();
const ReadOutput = z.object({ path: z.string(), exists: z.boolean(), content: z.string().nullable(), sha256: z.string().nullable() });
const WriteInput = z.object({ path: RelativePath, content: z.string().max(1_000_000) }).strict();
const Previous = z.object({ exists: z.boolean(), content: z.string().nullable() });
const WriteOutput = z.object({ path: z.string(), sha256: z.string(), previous: Previous });
const DeleteInput = z.object({ path: RelativePath }).strict();
const DeleteOutput = z.object({ path: z.string(), deleted: z.boolean(), previous: Previous });

type Snapshot = z.output<typeof Previous>;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The files connector: read, write and delete text files under one root directory, e.g. service
 * configuration. Writes are idempotent per idempotency key: the content before the first attempt is
 * kept in `<root>/.interlock/backups/<key>.json`, so a retried or recovered write still knows what to
 * restore, and the compensation puts it back. Verification reads the file again and compares its
 * SHA-256.
 */
export function createFilesConnector(options: { root: string }): AnyToolContract[] {
  const root = resolve(options.root);
  const backups = join(root, '.interlock', 'backups');

  const locate = (path: string): string => {
    const absolute = resolve(root, path);
    if (absolute !== root && !absolute.startsWith(root + sep)) {
      throw new ConnectorError('TOOL_FAILED', `${path} is outside the files root ${root}.`, { system: 'files', retryable: false });
    }
    return absolute;
  };

  const snapshot = async (absolute: string): Promise<Snapshot> => {
    try {
      return { exists: true, content: await readFile(absolute, 'utf8') };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false, content: null };
      throw failed('read', absolute, error);
    }
  };

  /** The content before the first attempt of this idempotency key (taken now on the first attempt). */
  const before = async (key: string, absolute: string): Promise<Snapshot> => {
    const file = join(backups, `${createHash('sha256').update(key).digest('hex')}.json`);
    try {
      return Previous.parse(JSON.parse(await readFile(file, 'utf8')));
    } catch {
      const previous = await snapshot(absolute);
      await mkdir(backups, { recursive: true });
      await atomicWrite(file, JSON.stringify(previous));
      return previous;
    }
  };

  const read: ToolContract<z.output<typeof ReadInput>, z.output<typeof ReadOutput>> = {
    name: 'files.read',
    description: 'Reads a text file under the files root; says whether it exists.',
    input: ReadInput,
    output: ReadOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: 5000,
    permission: 'files:read',
    async execute(args) {
      const state = await snapshot(locate(args.path));
      return { path: args.path, exists: state.exists, content: state.content, sha256: state.content === null ? null : sha256(state.content) };
    },
  };

  const write: ToolContract<z.output<typeof WriteInput>, z.output<typeof WriteOutput>> = {
    name: 'files.write',
    description: 'Writes a text file under the files root atomically, keeping its previous content for the compensation.',
    input: WriteInput,
    output: WriteOutput,
    risk: 'write-low',
    idempotent: true,
    timeoutMs: 10_000,
    permission: 'files:write',
    retry: { maxAttempts: 3, intervalMs: 200, backoffRate: 2 },
    compensation: { tool: 'files.restore', args: (args, result) => ({ path: args.path, previous: result.previous }) },
    verification: {
      intervalMs: 200,
      timeoutMs: 5000,
      async check(call, result) {
        const now = await snapshot(locate(call.args.path));
        const ok = now.content !== null && sha256(now.content) === result.sha256;
        return { ok, observed: ok ? `${call.args.path} has the written content (sha256 ${result.sha256.slice(0, 12)}…)` : `${call.args.path} does not have the written content` };
      },
    },
    async execute(args, context) {
      const absolute = locate(args.path);
      const previous = await before(context.idempotencyKey, absolute);
      try {
        await mkdir(dirname(absolute), { recursive: true });
        await atomicWrite(absolute, args.content);
      } catch (error) {
        throw failed('write', absolute, error);
      }
      return { path: args.path, sha256: sha256(args.content), previous };
    },
  };

  const RestoreInput = z.object({ path: RelativePath, previous: Previous }).strict();
  const restore: ToolContract<z.output<typeof RestoreInput>, { path: string; restored: 'content' | 'absence' }> = {
    name: 'files.restore',
    description: 'Puts a file back as it was before a write: its earlier content, or no file.',
    input: RestoreInput,
    output: z.object({ path: z.string(), restored: z.enum(['content', 'absence']) }),
    risk: 'write-low',
    idempotent: true,
    timeoutMs: 10_000,
    permission: 'files:write',
    async execute(args) {
      const absolute = locate(args.path);
      try {
        if (args.previous.exists && args.previous.content !== null) {
          await atomicWrite(absolute, args.previous.content);
          return { path: args.path, restored: 'content' as const };
        }
        await rm(absolute, { force: true });
        return { path: args.path, restored: 'absence' as const };
      } catch (error) {
        throw failed('restore', absolute, error);
      }
    },
  };

  const remove: ToolContract<z.output<typeof DeleteInput>, z.output<typeof DeleteOutput>> = {
    name: 'files.delete',
    description: 'Deletes a file under the files root, keeping its content for the compensation.',
    input: DeleteInput,
    output: DeleteOutput,
    risk: 'write-low',
    idempotent: true,
    timeoutMs: 10_000,
    permission: 'files:write',
    compensation: { tool: 'files.restore', args: (args, result) => ({ path: args.path, previous: result.previous }) },
    async execute(args, context) {
      const absolute = locate(args.path);
      const previous = await before(context.idempotencyKey, absolute);
      await rm(absolute, { force: true }).catch((error: unknown) => { throw failed('delete', absolute, error); });
      return { path: args.path, deleted: previous.exists, previous };
    },
  };

  return [read, write, restore, remove];

  function failed(verb: string, absolute: string, error: unknown): ConnectorError {
    const code = (error as NodeJS.ErrnoException).code;
    return new ConnectorError('TOOL_FAILED', `Could not ${verb} ${relative(root, absolute)}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
      system: 'files', status: code, retryable: code === 'EBUSY' || code === 'EAGAIN', cause: error,
    });
  }
}

/** Writes `content` to `file` through a temporary file and a rename, so readers never see half a file. */
async function atomicWrite(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, 'utf8');
  await rename(temporary, file);
}
