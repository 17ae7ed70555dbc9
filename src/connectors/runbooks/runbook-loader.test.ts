import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolCatalog } from '../../core/tools/catalog.js';
import { createBuiltinConnector } from '../builtin/index.js';
import { createFilesConnector } from '../files/index.js';
import { loadRunbookDirectory } from './runbook-loader.js';

let dir: string;
const catalog = new ToolCatalog([...createBuiltinConnector({ enabled: true }), ...createFilesConnector({ root: '/tmp' })]);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-runbooks-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const RUNBOOK = `apiVersion: interlock.dev/v1
kind: Runbook
metadata:
  name: write-marker
  version: 1
spec:
  match:
    hypothesis: memory_leak
  plan:
    - tool: files.write
      args: { path: 'marker-\${service}', content: x }
  verify:
    - tool: builtin.noop
      args: { note: '\${service}' }
`;

describe('loadRunbookDirectory', () => {
  it('loads every *.yaml document in name order, with a digest of the set', async () => {
    await writeFile(join(dir, 'b.yaml'), RUNBOOK);
    await writeFile(join(dir, 'a.yml'), RUNBOOK.replace('write-marker', 'other'));
    await writeFile(join(dir, 'notes.md'), 'not a runbook');
    const loaded = await loadRunbookDirectory(dir, catalog);
    expect(loaded.runbooks.map((r) => r.metadata.name)).toEqual(['other', 'write-marker']);
    expect(loaded.files).toEqual([join(dir, 'a.yml'), join(dir, 'b.yaml')]);
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a tool the catalog lacks, a writing verification and a duplicate name, each at file:line:column', async () => {
    const bad = RUNBOOK.replace('tool: files.write', 'tool: nope.restart').replace('tool: builtin.noop', 'tool: files.delete');
    await writeFile(join(dir, 'a.yaml'), `${bad}---\n${RUNBOOK.replace('write-marker', 'nope')}`);
    await writeFile(join(dir, 'b.yaml'), RUNBOOK.replace('write-marker', 'nope'));
    const error = await loadRunbookDirectory(dir, catalog).then(() => undefined, (e: unknown) => e as { code: string; details: { issues: Array<{ source: string; path: string; message: string }> } });
    expect(error?.code).toBe('RUNBOOK_INVALID');
    expect(error?.details.issues.map((issue) => [issue.source.replace(`${dir}/`, ''), issue.path, issue.message])).toEqual([
      ['a.yaml:10:13', 'spec.plan.0.tool', 'the catalog has no tool nope.restart (is its connector enabled?)'],
      ['a.yaml:13:13', 'spec.verify.0.tool', 'verifications must use read tools; files.delete is write-low'],
      ['b.yaml:4:9', 'metadata.name', expect.stringContaining('duplicate runbook name "nope"')],
    ]);
  });

  it('says which directory it cannot read', async () => {
    await expect(loadRunbookDirectory(join(dir, 'missing'), catalog)).rejects.toMatchObject({ code: 'RUNBOOK_UNREADABLE', message: expect.stringContaining('cannot read runbook directory') });
  });
});
