// `interlock audit export` in-process against the machine's PostgreSQL, a real CloudEvents receiver
// (node:http) and a JSON Lines file, as an operator runs it: catch up, replay from an index, and
// fail naming the sink when a receiver keeps refusing.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/audit/index.js';
import { exportAudit } from '../../src/server/main.js';
import { PgAuditLog } from '../../src/store/index.js';
import { startReceiver, type Receiver } from '../support/cloudevents-receiver.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';
import { runCliInProcess } from '../support/cli.js';

let db: MigratedTestDatabase;
let dir: string;
let receiver: Receiver;

beforeAll(async () => {
  db = await createMigratedTestDatabase('cli_audit_export');
  dir = await mkdtemp(join(tmpdir(), 'interlock-audit-export-'));
  receiver = await startReceiver();
  const entries: AuditEntry[] = Array.from({ length: 7 }, (_, i) => ({ schemaVersion: 1, kind: 'policy.decided', actor: 'engine', missionId: null, at: 1_700_000_000_000 + i, data: { i } }));
  await new PgAuditLog(db.handle.db).append(entries);
  await writeFile(join(dir, 'interlock.yaml'), [
    'audit:',
    '  export:',
    '    retry: { initialMs: 10, maxMs: 20 }',
    '    sinks:',
    '      - { name: archive, type: jsonl, path: export/audit.jsonl }',
    `      - { name: siem, type: cloudevents, url: "${receiver.url}", batchSize: 3, timeoutMs: 2000, bearerTokenEnv: SIEM_TOKEN }`,
    '',
  ].join('\n'));
});

afterAll(async () => {
  await receiver?.close();
  await db?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = await runCliInProcess(args, { cwd: dir, env: { DATABASE_URL: db.url, INTERLOCK_DATA_DIR: join(dir, 'data'), INTERLOCK_LOG_LEVEL: 'warn', SIEM_TOKEN: 'cli-token', ...env }, deps: { exportAudit } });
  return { code: run.code, stdout: run.stdout, stderr: run.stderr.join('\n') };
}

const indices = (): number[] => receiver.accepted().map((event) => Number(event.id.split(':').pop()));

describe('interlock audit export', () => {
  it('exports every sink until it has caught up, then exits 0; a second run has nothing to do', async () => {
    const run = await cli(['audit', 'export']);
    expect(run.stdout).toBe('archive: caught up, cursor at 7 (7 entries exported)\nsiem: caught up, cursor at 7 (7 entries exported)');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('audit export: siem: 7/7 entries');
    expect(indices()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(receiver.requests.every((request) => request.authorization === 'Bearer cli-token')).toBe(true);
    const lines = (await readFile(join(dir, 'export', 'audit.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual([0, 1, 2, 3, 4, 5, 6]);

    expect(await cli(['audit', 'export', '--json'])).toMatchObject({ code: 0, stderr: '' });
    expect(receiver.requests).toHaveLength(3);
  });

  it('replays one sink from an index with --from', async () => {
    const before = receiver.accepted().length;
    const run = await cli(['audit', 'export', '--sink', 'siem', '--from', '4']);
    expect(run).toMatchObject({ code: 0, stdout: 'siem: caught up, cursor at 7 (3 entries exported)' });
    expect(indices().slice(before)).toEqual([4, 5, 6]);
  });

  it('exits 1 naming the sink and the reason when a receiver keeps refusing', async () => {
    await new PgAuditLog(db.handle.db).append([{ schemaVersion: 1, kind: 'config.changed', actor: 'admin', missionId: null, at: 1_700_000_001_000, data: {} }]);
    receiver.script({ status: 400, body: 'missing field "source"' }, { status: 400, body: 'missing field "source"' });
    const run = await cli(['audit', 'export', '--sink', 'siem', '--max-attempts', '2']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('siem: FAILED after 2 attempts, cursor at 7 of 8: HTTP 400 Bad Request: missing field "source"');
    expect(run.stderr).toMatch(/^audit export: siem: attempt 1 failed \(HTTP 400 Bad Request: missing field "source"\); retrying in \d+ ms$/m);
    expect(run.stderr).toMatch(/^interlock: audit export failed: sink siem: HTTP 400 Bad Request: missing field "source" \(2 attempts in a row, cursor at 7 of 8\)$/m);
    expect(run.stderr).not.toContain('cli-token');
    // The entry was not skipped: the next run delivers it.
    expect(await cli(['audit', 'export', '--sink', 'siem'])).toMatchObject({ code: 0, stdout: 'siem: caught up, cursor at 8 (1 entry exported)' });
  });

  it('refuses an unknown sink, --from without --sink, a missing token variable, and no sinks at all', async () => {
    expect(await cli(['audit', 'export', '--sink', 'nope'])).toEqual({ code: 2, stdout: '', stderr: 'interlock: --sink: no sink is named "nope"; configured: archive, siem' });
    expect(await cli(['audit', 'export', '--from', '1'])).toEqual({ code: 2, stdout: '', stderr: 'interlock: --from needs --sink: a replay moves the cursor of one sink' });
    const unset = await cli(['audit', 'export'], { SIEM_TOKEN: '' });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('audit.export.sinks.1.bearerTokenEnv: names the environment variable SIEM_TOKEN, which is not set');
    await writeFile(join(dir, 'empty.yaml'), 'log:\n  level: warn\n');
    expect(await cli(['audit', 'export', '--config', join(dir, 'empty.yaml')])).toEqual({ code: 1, stdout: '', stderr: 'interlock: no audit export sinks are configured: add audit.export.sinks to the configuration (docs/configuration.md)' });
  });
});
