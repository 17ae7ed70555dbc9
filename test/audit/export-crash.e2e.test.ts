// The audit export survives a crash: a process exporting to a JSON Lines file and a CloudEvents
// receiver is killed with SIGKILL while a batch is in flight and entries are being appended, then
// restarted. The file holds every entry exactly once, in order; the receiver got every entry, and
// twice only those of the batch that was in flight.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAuditLog } from '../../src/store/index.js';
import { PgAuditExportCursors } from '../../src/store/audit-export-cursors.js';
import { startReceiver, type Receiver } from '../support/cloudevents-receiver.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';

const EXPORTER = fileURLToPath(new URL('../fixtures/audit-exporter.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
const BATCH = 5;

let db: MigratedTestDatabase;
let dir: string;
let receiver: Receiver;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createMigratedTestDatabase('audit_export_crash');
  dir = await mkdtemp(join(tmpdir(), 'interlock-export-crash-'));
  receiver = await startReceiver();
  await writeFile(join(dir, 'interlock.yaml'), [
    'audit:',
    '  origin: crash.test/audit',
    '  export:',
    '    pollIntervalMs: 20',
    '    retry: { initialMs: 10, maxMs: 100 }',
    '    sinks:',
    '      - { name: file, type: jsonl, path: out/audit.jsonl }',
    `      - { name: siem, type: cloudevents, url: "${receiver.url}", batchSize: ${BATCH}, timeoutMs: 2000, bearerTokenEnv: SIEM_TOKEN }`,
    '',
  ].join('\n'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await receiver?.close();
  await db?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Starts the exporter process and waits for its ready line. */
async function startExporter(): Promise<{ child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const child = spawn(process.execPath, ['--import', TSX, EXPORTER], {
    cwd: dir,
    env: { ...process.env, INTERLOCK_CONFIG: join(dir, 'interlock.yaml'), DATABASE_URL: db.url, SIEM_TOKEN: 'crash-token', INTERLOCK_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const exited = once(child, 'exit').then(([code, signal]: unknown[]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{"ready":true')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`exporter exited (${code ?? signal}) before it was ready:\n${stderr}`)));
  });
  return { child, exited };
}

describe('audit export across a crash', () => {
  it('SIGKILL mid-batch, restart: the file holds each entry once in order; the receiver got each entry, twice only those of the batch in flight', async () => {
    const log = new PgAuditLog(db.handle.db);
    let at = 1_700_000_000_000;
    const append = (count: number) => log.append(Array.from({ length: count }, (_, i) => ({ schemaVersion: 1 as const, kind: 'tool.called' as const, actor: 'engine', missionId: null, at: at++, data: { i } })));
    await append(12);
    // The third request is accepted by the receiver but its answer never comes: the exporter is
    // killed while waiting for it.
    receiver.script('ok', 'ok', 'hold');

    // Entries keep coming while the exporter runs, dies and comes back.
    let appending = true;
    const appender = (async () => {
      while (appending) {
        await append(3);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();

    const doomed = await startExporter();
    await receiver.waitForRequests(3);
    const inFlight = receiver.requests[2]!.events.map((event) => event.id);
    expect(inFlight).toHaveLength(BATCH);
    doomed.child.kill('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');
    receiver.release(); // the answer goes nowhere: its connection died with the process

    const survivor = await startExporter();
    await new Promise((resolve) => setTimeout(resolve, 200));
    appending = false;
    await appender;
    const size = await log.size();
    const cursors = new PgAuditExportCursors(db.handle.db);
    const deadline = Date.now() + 30_000;
    while ((await cursors.get('file'))?.next !== size || (await cursors.get('siem'))?.next !== size) {
      if (Date.now() > deadline) throw new Error(`cursors did not reach ${size}: ${JSON.stringify(await cursors.list())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toEqual({ code: 0, signal: null });

    const all = Array.from({ length: size }, (_, i) => i);
    const lines = (await readFile(join(dir, 'out', 'audit.jsonl'), 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual(all);

    const ids = receiver.accepted().map((event) => event.id);
    expect(new Set(ids)).toEqual(new Set(all.map((i) => `crash.test/audit:${i}`)));
    const seen = new Map<string, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    expect([...seen].filter(([, count]) => count > 1)).toEqual(inFlight.map((id) => [id, 2]));
    // First receipts come in index order.
    expect([...seen.keys()]).toEqual(all.map((i) => `crash.test/audit:${i}`));
  });
});
