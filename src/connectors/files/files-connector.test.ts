import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { ToolContext } from '../../core/tools/tool.js';
import { createFilesConnector } from './files-connector.js';

let root: string;
let catalog: ToolCatalog;
const context = (key: string): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: 's1', attempt: 1, signal: new AbortController().signal });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'files-connector-'));
  catalog = new ToolCatalog(createFilesConnector({ root }));
  catalog.check();
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('files connector', () => {
  it('writes a file, verifies it, and its compensation puts the old content back', async () => {
    await writeFile(join(root, 'pool.yaml'), 'max: 10\n');
    const write = catalog.get('files.write');
    const result = await write.execute({ path: 'pool.yaml', content: 'max: 20\n' }, context('m:s1'));
    expect(await readFile(join(root, 'pool.yaml'), 'utf8')).toBe('max: 20\n');
    expect(result.previous).toEqual({ exists: true, content: 'max: 10\n' });
    expect(await write.verification!.check({ tool: 'files.write', args: { path: 'pool.yaml', content: 'max: 20\n' }, idempotencyKey: 'm:s1' }, result, new AbortController().signal)).toMatchObject({ ok: true });

    const undo = catalog.get(write.compensation!.tool);
    await undo.execute(write.compensation!.args({ path: 'pool.yaml', content: 'max: 20\n' }, result), context('m:s1:compensate'));
    expect(await readFile(join(root, 'pool.yaml'), 'utf8')).toBe('max: 10\n');
  });

  it('remembers the content from before the first attempt when the same write runs again', async () => {
    const write = catalog.get('files.write');
    const first = await write.execute({ path: 'new.txt', content: 'v2' }, context('m:s2'));
    const replay = await write.execute({ path: 'new.txt', content: 'v2' }, context('m:s2'));
    expect(first.previous).toEqual({ exists: false, content: null });
    expect(replay.previous).toEqual({ exists: false, content: null });
    await catalog.get('files.restore').execute({ path: 'new.txt', previous: replay.previous }, context('m:s2:compensate'));
    await expect(readFile(join(root, 'new.txt'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses paths outside the root before touching the disk', () => {
    const checked = catalog.validateArgs('files.write', { path: '../etc/passwd', content: 'x' }, 'steps.0');
    expect(checked).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.path' }] });
    expect(catalog.validateArgs('files.read', { path: '/etc/passwd' }, 'steps.0').ok).toBe(false);
  });

  it('reports a write it cannot do as a non-retryable ConnectorError', async () => {
    await writeFile(join(root, 'file'), 'x');
    const error = await catalog.get('files.write').execute({ path: 'file/inside', content: 'x' }, context('m:s3')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, system: 'files' });
  });
});
