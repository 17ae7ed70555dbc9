import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../../test/support/cli.js';
import { estateSkipReason } from '../../../test/support/estate.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'interlock-estate-cli-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

describe('interlock estate', () => {
  it('refuses an unknown fault as a usage error, naming the faults it knows', async () => {
    const result = await runCliInProcess(['estate', 'inject', 'disk-full'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr.join('\n')).toContain('bad-release, memory-leak, pool-exhaustion, canary-regression, load-surge');
  });

  it('says there is no estate in a directory without one, and how to start it (default ./.interlock-estate)', async () => {
    for (const args of [['status'], ['heal'], ['inject', 'load-surge'], ['down']]) {
      const result = await runCliInProcess(['estate', ...args], { cwd });
      expect(result.code).toBe(1);
      expect(result.stderr).toEqual([`interlock: There is no reference estate in ${join(cwd, '.interlock-estate')} (no estate.json); start one with \`interlock estate up --dir ${join(cwd, '.interlock-estate')}\`.`]);
    }
  });

  it('names the Debian packages to install when a binary is missing, before touching the directory', async () => {
    const result = await runCliInProcess(['estate', 'up', '--dir', 'e'], { cwd, env: { PATH: join(cwd, 'no-binaries-here') } });
    expect(result.code).toBe(1);
    expect(result.stderr.join('\n')).toMatch(/^interlock: The reference estate needs supervisord, prometheus, prometheus-alertmanager(, nginx)?, git, which are not installed; install them with: apt-get install prometheus prometheus-alertmanager nginx-light supervisor git$/);
    expect(() => rmSync(join(cwd, 'e'))).toThrow();
  });

  it.skipIf(estateSkipReason() !== undefined)('refuses a directory that holds something else than an estate, and leaves it alone', async () => {
    mkdirSync(join(cwd, 'mine'));
    writeFileSync(join(cwd, 'mine', 'notes.txt'), 'keep me');
    const result = await runCliInProcess(['estate', 'up', '--dir', 'mine'], { cwd, env: { PATH: process.env.PATH ?? '' } });
    expect(result.code).toBe(1);
    expect(result.stderr.join('\n')).toContain(`${join(cwd, 'mine')} is not empty and holds no reference estate`);
    expect(readdirSync(join(cwd, 'mine'))).toEqual(['notes.txt']);
  });

  it('refuses a watch PID that is not a number', async () => {
    const result = await runCliInProcess(['estate', 'up', '--watch-pid', 'me'], { cwd });
    expect(result.code).toBe(2);
  });
});
