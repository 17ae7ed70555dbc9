// `interlock demo --files`: the governed loop end to end on a directory of files, with embedded
// PostgreSQL (as a new user would, from the built CLI) and every mission ends as expected.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string | undefined;

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('interlock demo', () => {
  it('runs the three missions on embedded PostgreSQL and ends each as expected', async () => {
    expect(existsSync(join(ROOT, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'interlock-demo-'));
    await chmod(dir, 0o755);
    const run = spawnSync(process.execPath, [join(ROOT, 'bin/interlock.js'), 'demo', '--files', '--json'], {
      cwd: dir, env: { ...process.env, DATABASE_URL: '', INTERLOCK_DATA_DIR: join(dir, '.interlock') }, encoding: 'utf8', timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { ok: boolean; rows: Array<{ outcome: string; steps: string; approval: string }>; audit: { ok: boolean; size: number } };
    expect(report.ok).toBe(true);
    expect(report.audit).toMatchObject({ ok: true, checkpoints: 1 });
    expect(report.audit.size).toBeGreaterThan(20);
    expect(report.rows.map((r) => r.outcome)).toEqual(['resolved', 'escalated', 'denied']);
    expect(report.rows[1]?.steps).toBe('s1:compensated s2:compensated s3:failed');
    expect(report.rows.map((r) => r.approval)).toEqual(['approved by demo-reviewer', 'approved by demo-reviewer', 'rejected by demo-reviewer']);
  }, 180_000);
});
