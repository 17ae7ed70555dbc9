// `interlock audit verify|checkpoint|proof|check` in-process against the machine's PostgreSQL, opened
// directly (no server), as an operator and an outside auditor use them.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/cli/api-client.js';
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { generateSigner, parseSignerKey, type AuditEntry } from '../../src/core/audit/index.js';
import { openAudit } from '../../src/server/audit-wiring.js';
import { createDatabase, migrateToLatest, PgAuditLog, type DatabaseHandle } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

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
  const stdout: string[] = [];
  const stderr: string[] = [];
  const notUsed = () => Promise.reject(new Error('not used here'));
  const ctx: CliContext = {
    io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) },
    env: { DATABASE_URL: testDb.url, INTERLOCK_DATA_DIR: join(dir, 'data'), INTERLOCK_LOG_LEVEL: 'warn' },
    cwd: dir,
    deps: { serve: notUsed, migrate: notUsed, doctor: notUsed, demo: notUsed, openIdentity: notUsed, openAudit, createApiClient },
    debug: false,
    now: () => Date.now(),
  };
  const code = await runCli(args, ctx);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
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

    await sql`alter table interlock.audit_entries disable trigger append_only`.execute(handle.db);
    await sql`update interlock.audit_entries set entry = convert_to(replace(convert_from(entry, 'UTF8'), '"i":3', '"i":9'), 'UTF8') where idx = 3`.execute(handle.db);
    expect(await cli(['audit', 'verify'])).toEqual({ code: 1, stdout: '', stderr: 'interlock: audit log tampered at index 3: its bytes do not match its leaf hash: the entry was rewritten' });
    expect((await cli(['audit', 'verify', '--key', verifierKey])).code).toBe(1);
    // A new checkpoint is never signed over the tampered log (an unchanged size returns the old one).
    await new PgAuditLog(handle.db).append([{ schemaVersion: 1, kind: 'config.changed', actor: 'admin', missionId: null, at: 1_700_000_000_100, data: {} }]);
    const refused = await cli(['audit', 'checkpoint']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^interlock: The audit log is tampered at index 3/);
  });
});
