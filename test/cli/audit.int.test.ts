// `interlock audit verify|checkpoint|proof|check` in-process against the machine's PostgreSQL, opened
// directly (no server), as an operator and an outside auditor use them.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigner, parseSignerKey, type AuditEntry } from '../../src/core/audit/index.js';
import { openAudit } from '../../src/server/main.js';
import { createDatabase, migrateToLatest, PgAuditLog, type DatabaseHandle } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { runCliInProcess } from '../support/cli.js';

let testDb: TestDatabase;
let handle: DatabaseHandle;
let dir: string;

beforeAll(async () => {
  testDb = await createTestDatabase('cli_audit');
  handle = createDatabase({ url: testDb.url, poolSize: 2 });
  await migrateToLatest(handle.db);
  dir = await mkdtemp(join(tmpdir(), 'interlock-audit-'));
  const entries: AuditEntry[] = Array.from({ length: 5 }, (_, i) => ({ schemaVersion: 1, kind: 'policy.decided', actor: 'engine', missionId: null, at: 1_700_000_000_000 + i, data: { i } }));
  await new PgAuditLog(handle.db).append(entries);
});

afterAll(async () => {
  await handle?.close();
  await testDb?.drop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const run = await runCliInProcess(args, { cwd: dir, env: { DATABASE_URL: testDb.url, INTERLOCK_DATA_DIR: join(dir, 'data'), INTERLOCK_LOG_LEVEL: 'warn' }, deps: { openAudit } });
  return { code: run.code, stdout: run.stdout, stderr: run.stderr.join('\n') };
}

describe('interlock audit', () => {
  it('checkpoints, verifies, proves; an outside auditor checks the proof; tampering makes verify exit 1', async () => {
    const checkpoint = await cli(['audit', 'checkpoint']);
    expect(checkpoint).toMatchObject({ code: 0, stderr: '' });
    expect(checkpoint.stdout).toMatch(/^interlock\/audit\n5\n\S{44}\n\n\u2014 interlock\/audit \S+$/);
    const keyFile = join(dir, 'data', 'audit-signing.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const verifierKey = parseSignerKey((await readFile(keyFile, 'utf8')).trim()).verifierKey;

    expect(await cli(['audit', 'verify'])).toEqual({ code: 0, stdout: 'audit log intact: 5 entries, 1 signed checkpoint(s) checked', stderr: '' });

    const proof = await cli(['audit', 'proof', '2']);
    expect(proof.code).toBe(0);
    expect(JSON.parse(proof.stdout)).toMatchObject({ index: 2, size: 5, checkpoint: `${checkpoint.stdout}\n` });
    await writeFile(join(dir, 'checkpoint.txt'), `${checkpoint.stdout}\n`);
    await writeFile(join(dir, 'proof.json'), proof.stdout);
    const check = ['audit', 'check', '--checkpoint', join(dir, 'checkpoint.txt'), '--proof', join(dir, 'proof.json')];
    expect(await cli([...check, '--key', verifierKey])).toEqual({ code: 0, stdout: 'audit proof ok: entry 2 is in the interlock/audit log of 5 entries signed by the given key', stderr: '' });
    const wrongKey = await cli([...check, '--key', generateSigner('interlock/audit').verifierKey]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^interlock: audit proof rejected: the checkpoint is not signed by the given key/);

    // Query: a table by default, JSON Lines with --json, filters checked before the database is asked.
    const table = await cli(['audit', 'query', '--kind', 'policy.decided', '--limit', '2']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/index.*kind.*actor/);
    expect(table.stdout.match(/policy\.decided/g)).toHaveLength(2);
    const lines = await cli(['--json', 'audit', 'query', '--after', '2']);
    expect(lines.stdout.split('\n').map((line) => JSON.parse(line).index)).toEqual([3, 4]);
    expect(await cli(['audit', 'query', '--kind', 'tool.exploded'])).toMatchObject({ code: 2, stderr: expect.stringContaining('tool.exploded is not an audit entry kind') });
    expect(await cli(['audit', 'query', '--since', 'yesterday'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--since must be ms since the epoch or an RFC 3339 date-time') });
    expect((await cli(['audit', 'query', '--since', '2100-01-01T00:00:00Z'])).stdout).toBe('no audit entries match');

    await sql`alter table interlock.audit_entries disable trigger append_only`.execute(handle.db);
    await sql`update interlock.audit_entries set entry = convert_to(replace(convert_from(entry, 'UTF8'), '"i":3', '"i":9'), 'UTF8') where idx = 3`.execute(handle.db);
    expect(await cli(['audit', 'verify'])).toEqual({ code: 1, stdout: '', stderr: 'interlock: audit log tampered at index 3: its bytes do not match its leaf hash: the entry was rewritten' });
    expect((await cli(['audit', 'verify', '--key', verifierKey])).code).toBe(1);
    // A new checkpoint extends the signed one: it commits to entry 3 as it was appended (the stored
    // subtree hashes fold to the signed root), so verify still names the rewritten row.
    await new PgAuditLog(handle.db).append([{ schemaVersion: 1, kind: 'config.changed', actor: 'admin', missionId: null, at: 1_700_000_000_100, data: {} }]);
    const extended = await cli(['audit', 'checkpoint']);
    expect(extended.code).toBe(0);
    expect(extended.stdout).toMatch(/^interlock\/audit\n6\n/);
    const consistency = await cli(['audit', 'consistency', '5']);
    expect(consistency.code).toBe(0);
    expect(JSON.parse(consistency.stdout)).toMatchObject({ fromSize: 5, toSize: 6, from: `${checkpoint.stdout}\n` });
    expect(await cli(['audit', 'consistency', '4'])).toMatchObject({ code: 1, stderr: expect.stringContaining('There is no checkpoint of 4 entries') });
    expect(await cli(['audit', 'verify'])).toMatchObject({ code: 1, stderr: 'interlock: audit log tampered at index 3: its bytes do not match its leaf hash: the entry was rewritten' });
    expect(await cli(['audit', 'proof', '3'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^interlock: Audit entry 3's bytes do not match its leaf hash/) });
  });
});
