import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { runEstateDemo } from './estate-demo.js';

let dir: string | undefined;

afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the estate demo', () => {
  it('says what to install, starts nothing and fails when a program the estate needs is missing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'interlock-demo-missing-'));
    const lines: string[] = [];
    const report = await runEstateDemo({ config: loadConfig({ env: {}, cwd: dir }), out: (line) => lines.push(line), searchPath: join(dir, 'no-such-bin') });
    expect(report).toMatchObject({ ok: false, rows: [], audit: null });
    expect(report.missing).toContain('apt-get install prometheus prometheus-alertmanager nginx-light supervisor git');
    expect(report.missing).toMatch(/needs supervisord, prometheus, prometheus-alertmanager.*git/);
    expect(lines).toEqual([report.missing]);
  });
});
