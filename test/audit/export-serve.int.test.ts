// A serving worker exports its audit log to the configured sinks (startInterlock wires the exporter),
// reports the lag on /metrics, and stops it before the database closes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAuditLog } from '../../src/store/index.js';
import { startTestInterlock, type TestInterlock } from '../support/interlock.js';

let dir: string;
let interlock: TestInterlock;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-export-serve-'));
  await writeFile(join(dir, 'interlock.yaml'), 'audit:\n  export:\n    pollIntervalMs: 20\n    sinks:\n      - { name: archive, type: jsonl, path: out/audit.jsonl }\n');
  interlock = await startTestInterlock('audit_export_serve', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
});

afterAll(async () => {
  await interlock?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('audit export in a serving worker', () => {
  it('exports every entry, the worker configuration first, and shows a lag of 0 on /metrics once caught up', async () => {
    const log = new PgAuditLog(interlock.running.database.handle.db);
    const path = join(dir, 'out', 'audit.jsonl');
    const deadline = Date.now() + 30_000;
    let lines: string[] = [];
    let metrics = '';
    for (;;) {
      const size = await log.size();
      lines = (await readFile(path, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
      metrics = await (await fetch(`${interlock.running.url}/metrics`)).text();
      if (size > 0 && lines.length === size && /^interlock_audit_export_lag_entries\{sink="archive"\} 0$/m.test(metrics)) break;
      if (Date.now() > deadline) throw new Error(`the file holds ${lines.length} of ${size} entries; metrics:\n${metrics}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual(lines.map((_, i) => i));
    expect(JSON.parse(lines[0]!)).toMatchObject({ index: 0, entry: { kind: 'config.changed' } });
  });
});
