// The audit export against the machine's PostgreSQL and a real HTTP receiver (node:http) that fails
// in several ways before it accepts, and real JSON Lines files.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditConfig } from '../config/index.js';
import type { AuditEntry } from '../core/audit/entry.js';
import { formatAuditExportLine } from '../core/audit/export.js';
import { createDatabase, PgAuditLog, type DatabaseHandle } from '../store/index.js';
import { PgAuditExportCursors } from '../store/audit-export-cursors.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { startReceiver, type Receiver } from '../../test/support/cloudevents-receiver.js';
import { AuditExporter, type AuditExportLogger } from './audit-export.js';
import { createMetrics } from './metrics.js';

type SinkConfig = AuditConfig['export']['sinks'][number];

let db: MigratedTestDatabase;
let dir: string;
let receiver: Receiver;
const exporters: AuditExporter[] = [];

beforeAll(async () => {
  db = await createMigratedTestDatabase('audit_export');
  dir = await mkdtemp(join(tmpdir(), 'interlock-export-'));
});

afterAll(async () => {
  await db?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await Promise.all(exporters.splice(0).map((exporter) => exporter.stop()));
  await receiver.close();
});

let at = 1_700_000_000_000;
const entry = (i: number): AuditEntry => ({ schemaVersion: 1, kind: i % 2 === 0 ? 'tool.called' : 'policy.decided', actor: 'engine', missionId: null, at: at++, data: { i } });

/** Appends `count` entries; returns the log size after. */
async function append(count: number): Promise<number> {
  const log = new PgAuditLog(db.handle.db);
  await log.append(Array.from({ length: count }, (_, i) => entry(i)));
  return log.size();
}

function logs(): AuditExportLogger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  return {
    lines,
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, ...(msg === undefined ? {} : { msg }) }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, ...(msg === undefined ? {} : { msg }) }),
  };
}

function exporter(sinks: SinkConfig[], options: { handle?: DatabaseHandle; logger?: AuditExportLogger; metrics?: ReturnType<typeof createMetrics> } = {}): AuditExporter {
  const made = new AuditExporter({
    db: (options.handle ?? db.handle).db,
    audit: { origin: 'test/audit', export: { sinks, pollIntervalMs: 20, retry: { initialMs: 10, maxMs: 50 } } },
    logger: options.logger ?? logs(),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
  exporters.push(made);
  return made;
}

const cloudevents = (name: string, overrides: Partial<Extract<SinkConfig, { type: 'cloudevents' }>> = {}): SinkConfig => ({ name, type: 'cloudevents', url: receiver.url, mode: 'batch', batchSize: 10, timeoutMs: 300, ...overrides });

/** Polls `check` until it holds (at most 30 s). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const cursorOf = async (sink: string): Promise<number | undefined> => (await new PgAuditExportCursors(db.handle.db).get(sink))?.next;
const indexOf = (id: string): number => Number(id.slice(id.lastIndexOf(':') + 1));
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function fileIndices(path: string): Promise<number[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => (JSON.parse(line) as { index: number }).index);
}

describe('CloudEvents over HTTP', () => {
  it('delivers every entry in order through a receiver that fails first (500, reset, 429, timeout, 400), counts each failure and never logs the token', async () => {
    const size = await append(25);
    const start = (await cursorOf('siem')) ?? 0;
    receiver.script(
      { status: 500, body: 'busy' },
      'destroy',
      { status: 429, headers: { 'retry-after': '1' } },
      'hang',
      { status: 400, body: '{"error":"schema mismatch: field data is required"}' },
    );
    const logger = logs();
    const metrics = createMetrics();
    const token = 'tok-SECRET-123';
    exporter([cloudevents('siem', { bearerToken: token, headers: { 'X-Tenant': 'ops' } })], { logger, metrics }).start();
    await until(async () => (await cursorOf('siem')) === size);

    const ids = receiver.accepted().map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length); // nothing confirmed was sent twice
    expect(ids.map(indexOf)).toEqual(range(start, size));
    expect(receiver.accepted()[0]).toMatchObject({ specversion: '1.0', source: 'urn:interlock:audit:test/audit', type: `io.interlock.audit.tool.called`, datacontenttype: 'application/json', interlockindex: String(start) });
    for (const request of receiver.requests) {
      expect(request.contentType).toBe('application/cloudevents-batch+json; charset=utf-8');
      expect(request.authorization).toBe(`Bearer ${token}`);
      expect(request.headers['x-tenant']).toBe('ops');
    }
    // Each failed attempt carried the same first batch again.
    expect(receiver.requests.slice(0, 6).map((request) => indexOf(request.events[0]!.id))).toEqual([start, start, start, start, start, start]);

    const failures = await metrics.registry.getSingleMetric('interlock_audit_export_failures_total')!.get();
    expect(Object.fromEntries(failures.values.map((value) => [`${value.labels.sink}/${value.labels.reason}`, value.value]))).toEqual({ 'siem/http': 3, 'siem/network': 1, 'siem/timeout': 1 });
    const lag = await metrics.registry.getSingleMetric('interlock_audit_export_lag_entries')!.get();
    expect(lag.values).toEqual([{ labels: { sink: 'siem' }, value: 0 }]);

    expect(logger.lines.map((line) => [line.level, (line.obj as { reason: string }).reason, (line.obj as { status?: number }).status])).toEqual([
      ['warn', 'http', 500],
      ['warn', 'network', undefined],
      ['warn', 'http', 429],
      ['warn', 'timeout', undefined],
      ['error', 'http', 400],
    ]);
    expect((logger.lines[2]!.obj as { retryInMs: number }).retryInMs).toBe(1000); // Retry-After: 1
    expect(logger.lines[4]!.msg).toContain('HTTP 400 Bad Request: {"error":"schema mismatch: field data is required"}');
    expect(JSON.stringify(logger.lines)).not.toContain(token);
  });

  it('in structured mode, POSTs one event per request and does not resend the events confirmed before a failure', async () => {
    const size = await append(5);
    const start = (await cursorOf('one-by-one')) ?? 0;
    receiver.script('ok', 'ok', { status: 503 });
    exporter([cloudevents('one-by-one', { mode: 'structured' })]).start();
    await until(async () => (await cursorOf('one-by-one')) === size);
    expect(receiver.requests.map((request) => request.contentType)).toEqual(Array(size - start + 1).fill('application/cloudevents+json; charset=utf-8'));
    expect(receiver.requests.map((request) => request.events.map((event) => indexOf(event.id)))).toEqual([[start], [start + 1], [start + 2], ...range(start + 2, size).map((i) => [i])]);
    expect(receiver.accepted().map((event) => indexOf(event.id))).toEqual(range(start, size));
  });

  it('runs one exporter at a time per sink when two share the database: each entry reaches the receiver and the file once', async () => {
    await receiver.close();
    receiver = await startReceiver({ delayMs: 15 });
    const other = createDatabase({ url: db.url, poolSize: 3 });
    try {
      const path = join(dir, 'shared', 'audit.jsonl');
      const sinks = [cloudevents('shared', { batchSize: 7 }), { name: 'shared-file', type: 'jsonl' as const, path }];
      const start = (await cursorOf('shared')) ?? (await new PgAuditLog(db.handle.db).size());
      await new PgAuditExportCursors(db.handle.db).set('shared', start);
      await new PgAuditExportCursors(db.handle.db).set('shared-file', start);
      const a = exporter(sinks);
      const b = exporter(sinks, { handle: other });
      a.start();
      b.start();
      let size = 0;
      for (let round = 0; round < 8; round += 1) {
        size = await append(9);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await until(async () => (await cursorOf('shared')) === size && (await cursorOf('shared-file')) === size);
      await Promise.all([a.stop(), b.stop()]);
      expect(receiver.accepted().map((event) => indexOf(event.id))).toEqual(range(start, size));
      expect(receiver.maxConcurrent).toBe(1);
      expect(await fileIndices(path)).toEqual(range(start, size));
    } finally {
      await other.close();
    }
  });
});

describe('configuration', () => {
  it('refuses a CloudEvents sink whose token variable was not set when the configuration was loaded, naming the key', () => {
    let error: unknown;
    try {
      exporter([{ name: 'ok-file', type: 'jsonl', path: join(dir, 'unused.jsonl') }, cloudevents('no-token', { bearerTokenEnv: 'SIEM_TOKEN' })]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', issues: [{ path: 'audit.export.sinks.1.bearerTokenEnv', message: 'names the environment variable SIEM_TOKEN, which is not set; set it to the token' }] });
  });
});

describe('JSON Lines', () => {
  it('creates the file 0640 in a new directory and writes each entry once, as its canonical line', async () => {
    const size = await append(3);
    const path = join(dir, 'new', 'dir', 'audit.jsonl');
    const report = await exporter([{ name: 'fresh-file', type: 'jsonl', path }]).catchUp();
    expect(report).toEqual({ ok: true, sinks: [{ sink: 'fresh-file', ok: true, next: size, target: size, exported: size }] });
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    const page = await new PgAuditLog(db.handle.db).query({ limit: 1000 });
    expect(await readFile(path, 'utf8')).toBe(page.entries.map(formatAuditExportLine).join(''));
    expect(await exporter([{ name: 'fresh-file', type: 'jsonl', path }]).catchUp()).toMatchObject({ ok: true, sinks: [{ exported: 0 }] });
    expect(await fileIndices(path)).toEqual(range(0, size));
  });

  it('after a crash, skips the entries the file already holds and cuts off a partial last line', async () => {
    const size = await append(4);
    const page = await new PgAuditLog(db.handle.db).query({ limit: 1000 });
    const path = join(dir, 'crashed.jsonl');
    // The file got entries 0..4 (fsynced) and half of 5, but the cursor commit was lost: it is at 0.
    const lines = page.entries.map(formatAuditExportLine);
    await writeFile(path, `${lines.slice(0, 5).join('')}${lines[5]!.slice(0, 20)}`);
    const report = await exporter([{ name: 'crashed-file', type: 'jsonl', path }]).catchUp();
    expect(report.sinks[0]).toMatchObject({ ok: true, next: size });
    expect(await fileIndices(path)).toEqual(range(0, size));
    expect(await readFile(path, 'utf8')).toBe(lines.join(''));
  });

  it("refuses a file whose last line is an entry of another log (another leaf hash at that index)", async () => {
    await append(1);
    const path = join(dir, 'other-log.jsonl');
    const other = { index: 0, entry: { ...entry(0), actor: 'someone-else' }, leafHash: new Uint8Array(32).fill(7) };
    await writeFile(path, formatAuditExportLine(other));
    const report = await exporter([{ name: 'other-log-file', type: 'jsonl', path }]).catchUp({ maxAttempts: 1 });
    expect(report.sinks[0]).toMatchObject({ ok: false, next: 0, failure: { reason: 'file', message: `the last line of ${path} is entry 0 of another log (its leaf hash differs from this log's): move the file away` } });
    expect(await readFile(path, 'utf8')).toBe(formatAuditExportLine(other));
  });

  it('refuses to append to a file whose last line is not an export line, naming the file, and keeps the cursor', async () => {
    await append(1);
    const path = join(dir, 'foreign.jsonl');
    await writeFile(path, 'hello\nworld\n');
    await chmod(path, 0o600);
    const logger = logs();
    const report = await exporter([{ name: 'foreign-file', type: 'jsonl', path }], { logger }).catchUp({ maxAttempts: 2 });
    expect(report.ok).toBe(false);
    expect(report.sinks[0]).toMatchObject({ ok: false, attempts: 2, next: 0, failure: { reason: 'file', persistent: true } });
    expect(report.sinks[0]!.ok === false && report.sinks[0]!.failure.message).toContain(`the last line of ${path} is not an audit export line ("world")`);
    expect(await cursorOf('foreign-file')).toBe(0);
    expect(await readFile(path, 'utf8')).toBe('hello\nworld\n');
    expect(logger.lines.map((line) => line.level)).toEqual(['error', 'error']);
  });
});
