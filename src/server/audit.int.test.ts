import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigner, type AuditEntry } from '../core/audit/index.js';
import { PgAuditLog } from '../store/index.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { AuditService, loadAuditSigner } from './audit.js';

let db: MigratedTestDatabase;
let dir: string;
const services: AuditService[] = [];

const entry = (i: number): AuditEntry => ({ schemaVersion: 1, kind: 'config.changed', actor: 'worker-1', missionId: null, at: 1_700_000_000_000 + i, data: { i } });

function service(keyFile: string, origin = 'interlock/audit', intervalMs: number | null = null) {
  const logs: Array<{ level: string; obj: object; msg?: string }> = [];
  const made = new AuditService(new PgAuditLog(db.handle.db), { origin, signingKeyFile: keyFile, checkpointIntervalMs: intervalMs }, {
    info: (obj, msg) => logs.push({ level: 'info', obj, ...(msg === undefined ? {} : { msg }) }),
    error: (obj, msg) => logs.push({ level: 'error', obj, ...(msg === undefined ? {} : { msg }) }),
  });
  services.push(made);
  return { made, logs };
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await condition()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(await condition()).toBe(true);
}

beforeEach(async () => {
  db = await createMigratedTestDatabase('server_audit', 3);
  dir = await mkdtemp(join(tmpdir(), 'interlock-audit-service-'));
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('loadAuditSigner', () => {
  it('creates a 0600 key once, and refuses a key named for another log', async () => {
    const file = join(dir, 'keys', 'audit.key');
    expect(await loadAuditSigner(file, 'interlock/audit', { create: false })).toBeUndefined();
    const created = await loadAuditSigner(file, 'interlock/audit', { create: true });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The directory (by default the data directory) keeps the default mode: the embedded PostgreSQL's
    // own user must be able to enter it.
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o777 & ~process.umask());
    expect((await loadAuditSigner(file, 'interlock/audit', { create: true }))!.verifierKey).toBe(created!.verifierKey);
    await expect(loadAuditSigner(file, 'example.com/prod', { create: false })).rejects.toMatchObject({ code: 'AUDIT_KEY_INVALID', issues: [{ path: 'audit.signingKeyFile', received: 'interlock/audit' }] });
  });
});

describe('AuditService', () => {
  it('signs a checkpoint every interval while entries arrive, and none while idle', async () => {
    const { made, logs } = service(join(dir, 'a.key'), 'interlock/audit', 1000);
    await made.start(1000);
    await made.log.append([entry(0), entry(1)]);
    await until(async () => (await made.latestCheckpoint())?.size === 2);
    await made.log.append([entry(2)]);
    await until(async () => (await made.latestCheckpoint())?.size === 3);
    expect(logs.filter((l) => l.msg === 'audit checkpoint signed').map((l) => l.obj)).toEqual([{ size: 2 }, { size: 3 }]);
    expect(await made.verify(undefined)).toEqual({ ok: true, size: 3, checkpoints: 2 });
  });

  it("a worker with another key signs nothing and says why at error level, every interval", async () => {
    const shared = service(join(dir, 'shared.key'));
    await shared.made.log.append([entry(0)]);
    await shared.made.checkpoint();
    await writeFile(join(dir, 'stray.key'), `${generateSigner('interlock/audit').signerKey}\n`, { mode: 0o600 });
    const stray = service(join(dir, 'stray.key'), 'interlock/audit', 1000);
    await stray.made.start(1000);
    await stray.made.log.append([entry(1)]);
    await until(() => Promise.resolve(stray.logs.some((l) => l.level === 'error')));
    expect(stray.logs.find((l) => l.level === 'error')!.obj).toMatchObject({ code: 'AUDIT_KEY_MISMATCH' });
    expect((await stray.made.latestCheckpoint())!.size).toBe(1);
    // The shared key goes on signing.
    expect((await shared.made.checkpoint()).size).toBe(2);
    expect((await readFile(join(dir, 'shared.key'), 'utf8')).startsWith('PRIVATE+KEY+interlock/audit+')).toBe(true);
  });

  it('verify without a key file asks for --key instead of creating one', async () => {
    const { made } = service(join(dir, 'none.key'));
    await expect(made.verify(undefined)).rejects.toMatchObject({ code: 'INPUT_INVALID', issues: [{ path: '--key' }] });
    await expect(stat(join(dir, 'none.key'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
