import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDeployLine } from '../changes/deploy-log.js';
import { appendDeployRecord, hasRecordLine, recentRecords, renderDeployRecord, rollbackTarget } from './deploy-record.js';

let dir: string;
let log: string;
const AT = Date.UTC(2026, 2, 1, 10, 0, 0, 250);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'releases-log-'));
  log = join(dir, 'logs', 'deploys.jsonl');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy log records', () => {
  it('renders the documented fields in order, one line, read back by the changes connector', () => {
    const line = renderDeployRecord({ at: AT, service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', by: 'interlock:m1', ref: 'a'.repeat(40) });
    expect(line).toBe(`{"at":"2026-03-01T10:00:00.250Z","service":"web","version":"v2","previous":"v1","kind":"deploy","by":"interlock:m1","ref":"${'a'.repeat(40)}"}\n`);
    expect(parseDeployLine(line.trimEnd())).toEqual({
      ok: true,
      record: { at: AT, service: 'web', version: 'v2', kind: 'deploy', by: 'interlock:m1', previous: 'v1', environment: null, description: null, ref: 'a'.repeat(40) },
    });
  });

  it('leaves ref out when there is no commit (the changes connector refuses a null ref)', () => {
    const line = renderDeployRecord({ at: AT, service: 'web', version: 'v1', previous: 'v2', kind: 'rollback', by: 'ci' });
    expect(line).not.toContain('ref');
    expect(parseDeployLine(line.trimEnd())).toMatchObject({ ok: true, record: { kind: 'rollback', ref: null } });
  });

  it('appends whole lines, creating the file, and ends a line another writer left open first', async () => {
    const one = renderDeployRecord({ at: AT, service: 'web', version: 'v1', previous: 'v0', kind: 'deploy', by: 'ci' });
    await appendDeployRecord(log, one);
    expect(await readFile(log, 'utf8')).toBe(one);
    await writeFile(log, `${one}{"partial":`);
    const two = renderDeployRecord({ at: AT + 1, service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', by: 'ci' });
    await appendDeployRecord(log, two);
    expect(await readFile(log, 'utf8')).toBe(`${one}{"partial":\n${two}`);
    expect(await hasRecordLine(log, two)).toBe(true);
    expect(await hasRecordLine(log, renderDeployRecord({ at: AT + 2, service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', by: 'ci' }))).toBe(false);
    expect(await hasRecordLine(join(dir, 'missing.jsonl'), two)).toBe(false);
  });
});

describe('reading the deploy log back', () => {
  const write = async (records: Array<[string, string, string, 'deploy' | 'rollback']>): Promise<void> => {
    const lines = records.map(([service, version, previous, kind], index) => renderDeployRecord({ at: AT + index * 1000, service, version, previous, kind, by: 'ci' }));
    for (const line of ['not json\n', ...lines]) await appendDeployRecord(log, line);
  };

  it('gives the last records of one service, newest first, and none without a file', async () => {
    await write([['web', 'v2', 'v1', 'deploy'], ['api', 'r2', 'r1', 'deploy'], ['web', 'v3', 'v2', 'deploy'], ['web', 'v2', 'v3', 'rollback']]);
    expect((await recentRecords(log, 'web', 2)).map((r) => `${r.kind} ${r.version}`)).toEqual(['rollback v2', 'deploy v3']);
    expect(await recentRecords(log, 'web', 0)).toEqual([]);
    expect(await recentRecords(join(dir, 'missing.jsonl'), 'web', 5)).toEqual([]);
  });

  it('rolls back to the previous of the newest deploy of the current version, skipping rollbacks', async () => {
    await write([['web', 'v1', 'v0', 'deploy'], ['web', 'v2', 'v1', 'deploy'], ['web', 'v3', 'v2', 'deploy'], ['web', 'v2', 'v3', 'rollback'], ['api', 'v2', 'x', 'deploy']]);
    // From v3: back to v2. From v2 (after the rollback): back to v1, not forward to v3 again.
    expect(await rollbackTarget(log, 'web', 'v3')).toMatchObject({ ok: true, version: 'v2' });
    expect(await rollbackTarget(log, 'web', 'v2')).toMatchObject({ ok: true, version: 'v1' });
    expect(await rollbackTarget(log, 'web', 'v9')).toEqual({ ok: false, reason: expect.stringContaining('has no deploy record of web v9') });
    expect(await rollbackTarget(join(dir, 'missing.jsonl'), 'web', 'v2')).toEqual({ ok: false, reason: expect.stringContaining('does not exist yet') });
  });
});
