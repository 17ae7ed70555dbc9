import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InterlockConfig } from '../config/index.js';
import { InternalError } from '../core/errors.js';
import { createApiClient } from './api-client.js';
import type { CliContext } from './context.js';
import type { CliDeps, DoctorReport, MigrateResult } from './deps.js';
import { runCli } from './program.js';

/** A CLI context writing into arrays, with fake server functions that record the config they got. */
function testContext(cwd: string, env: Record<string, string> = {}, overrides: Partial<CliDeps> = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const configs: InterlockConfig[] = [];
  const deps: CliDeps = {
    serve: (config) => {
      configs.push(config);
      return Promise.resolve();
    },
    migrate: (config): Promise<MigrateResult> => {
      configs.push(config);
      return Promise.resolve({ applied: ['0001_missions', '0002_workers'], current: '0002_workers' });
    },
    demo: (options) => {
      configs.push(options.config);
      options.out('Mission: a demo');
      return Promise.resolve({ ok: true, rows: [{ mission: 'a demo', decision: 'require_approval', approval: 'approved by demo-reviewer', outcome: 'resolved', steps: 's1:succeeded', verified: '120 ms after request', durationMs: 300, expected: 'resolved', ok: true }], audit: { ok: true, size: 42, checkpoints: 1 } });
    },
    estateDemo: (options) => {
      configs.push(options.config);
      return Promise.resolve({ ok: false, rows: [], audit: null, missing: 'install them' });
    },
    doctor: (config): Promise<DoctorReport> => {
      configs.push(config);
      return Promise.resolve({ ok: true, checks: [{ name: 'database reachable', status: 'ok', detail: 'PostgreSQL 17.6' }] });
    },
    openIdentity: () => Promise.reject(new Error('openIdentity is not used by these tests')),
    createApiClient,
    ...overrides,
  };
  const ctx: CliContext = { io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) }, env, cwd, deps, debug: false, now: () => 0 };
  return { ctx, stdout, stderr, configs };
}

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'interlock-cli-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

describe('usage', () => {
  it('prints the package version with --version', async () => {
    const { ctx, stdout } = testContext(cwd);
    const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
    expect(await runCli(['--version'], ctx)).toBe(0);
    expect(stdout).toEqual([version]);
  });

  it.each(['', 'serve', 'db', 'db migrate', 'doctor', 'config', 'config print', 'missions', 'missions list', 'missions show', 'missions cancel', 'approvals', 'approvals list', 'approvals show', 'approvals approve', 'approvals deny', 'principals', 'principals create', 'principals list', 'tokens', 'tokens create', 'tokens revoke', 'tokens list'])(
    'prints help for "interlock %s --help" and exits 0',
    async (command) => {
      const { ctx, stdout, stderr } = testContext(cwd);
      const args = command === '' ? ['--help'] : [...command.split(' '), '--help'];
      expect(await runCli(args, ctx)).toBe(0);
      expect(stdout.join('\n')).toMatch(new RegExp(`^Usage: interlock${command === '' ? '' : ` ${command}`} `));
      expect(stderr).toEqual([]);
    },
  );

  it('exits 2 with one line on stderr for an unknown command', async () => {
    const { ctx, stdout, stderr } = testContext(cwd);
    expect(await runCli(['frobnicate'], ctx)).toBe(2);
    expect(stderr).toEqual(["interlock: unknown command 'frobnicate'; see interlock --help"]);
    expect(stdout).toEqual([]);
  });

  it('exits 2 for an unknown option and for a bad option value', async () => {
    const unknown = testContext(cwd);
    expect(await runCli(['config', 'print', '--colour'], unknown.ctx)).toBe(2);
    expect(unknown.stderr).toEqual(["interlock: unknown option '--colour'; see interlock --help"]);
    const bad = testContext(cwd);
    expect(await runCli(['serve', '--port', 'eighty'], bad.ctx)).toBe(2);
    expect(bad.stderr).toEqual(["interlock: option '--port <port>' argument 'eighty' is invalid. expected an integer from 0 to 65535; see interlock --help"]);
    expect(bad.configs).toEqual([]);
  });
});

describe('config print', () => {
  const env = { DATABASE_URL: 'postgres://interlock:hunter2@db.internal:5432/interlock' };

  it('prints the resolved configuration as YAML with the database password redacted', async () => {
    const { ctx, stdout } = testContext(cwd, env);
    expect(await runCli(['config', 'print'], ctx)).toBe(0);
    const text = stdout.join('\n');
    expect(text).toContain('url: postgres://interlock:***@db.internal:5432/interlock');
    expect(text).toContain(`dataDir: ${join(cwd, '.interlock')}`);
    expect(text).not.toContain('hunter2');
  });

  it('prints JSON with --json (before or after the command), still redacted', async () => {
    for (const args of [['--json', 'config', 'print'], ['config', 'print', '--json']]) {
      const { ctx, stdout } = testContext(cwd, env);
      expect(await runCli(args, ctx)).toBe(0);
      const printed = JSON.parse(stdout.join('\n'));
      expect(printed.database.url).toBe('postgres://interlock:***@db.internal:5432/interlock');
      expect(printed.server).toEqual({ host: '127.0.0.1', port: 7411, bodyLimitBytes: 1_048_576 });
    }
  });

  it('reads the file named by --config', async () => {
    writeFileSync(join(cwd, 'other.yaml'), 'server:\n  port: 9999\n');
    const { ctx, stdout } = testContext(cwd);
    expect(await runCli(['--config', 'other.yaml', 'config', 'print', '--json'], ctx)).toBe(0);
    expect(JSON.parse(stdout.join('\n')).server.port).toBe(9999);
  });

  it('exits 1 with the error line and then one line per issue, without a stack trace', async () => {
    writeFileSync(join(cwd, 'interlock.yaml'), 'server:\n  prot: 1\nlog:\n  level: loud\n');
    const { ctx, stdout, stderr } = testContext(cwd);
    expect(await runCli(['config', 'print'], ctx)).toBe(1);
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([
      'interlock: invalid configuration, 2 problems: fix the file, environment variable or flag each one names',
      '  interlock.yaml:2:3 server.prot: unknown key; did you mean "port"? (expected one of host, port, bodyLimitBytes, got key "prot")',
      '  interlock.yaml:4:3 log.level: not an allowed value (expected one of "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent", got "loud")',
    ]);
  });

  it('prints a YAML syntax error as one line with file:line:col', async () => {
    writeFileSync(join(cwd, 'interlock.yaml'), 'server:\n  port: [7411\n');
    const { ctx, stderr } = testContext(cwd);
    expect(await runCli(['config', 'print'], ctx)).toBe(1);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^interlock: interlock\.yaml:\d+:\d+: invalid YAML: /);
  });
});

describe('serve, db migrate and doctor', () => {
  it('serve passes its flags to the configuration over the environment', async () => {
    const { ctx, configs } = testContext(cwd, { INTERLOCK_PORT: '8000', INTERLOCK_HOST: '0.0.0.0' });
    expect(await runCli(['serve', '--port', '9000', '--worker-id', 'edge-1', '--log-level', 'debug'], ctx)).toBe(0);
    expect(configs).toHaveLength(1);
    expect(configs[0]?.server).toMatchObject({ host: '0.0.0.0', port: 9000 });
    expect(configs[0]?.engine.workerId).toBe('edge-1');
    expect(configs[0]?.log.level).toBe('debug');
  });

  it('db migrate reports the migrations applied', async () => {
    const { ctx, stdout } = testContext(cwd);
    expect(await runCli(['db', 'migrate'], ctx)).toBe(0);
    expect(stdout).toEqual(['applied 2 migrations (0001_missions, 0002_workers); schema is at 0002_workers']);
  });

  it('doctor prints every check and exits 1 when one failed', async () => {
    const report: DoctorReport = {
      ok: false,
      checks: [
        { name: 'configuration', status: 'ok', detail: 'valid' },
        { name: 'database reachable', status: 'fail', detail: 'connection refused at db:5432; check DATABASE_URL' },
      ],
    };
    const { ctx, stdout, stderr } = testContext(cwd, {}, { doctor: () => Promise.resolve(report) });
    expect(await runCli(['doctor'], ctx)).toBe(1);
    expect(stdout.join('\n')).toMatch(/database reachable\s+│ fail\s+│ connection refused at db:5432; check DATABASE_URL/);
    expect(stderr).toEqual(['interlock: 1 of 2 checks failed: database reachable']);
  });

  it('reports a failure of the server module as one line, with the stack only when debugging', async () => {
    const failing = (): Promise<never> => Promise.reject(new InternalError('migration 0003 failed: relation "x" exists', { code: 'MIGRATION_FAILED' }));
    const quiet = testContext(cwd, {}, { migrate: failing });
    expect(await runCli(['db', 'migrate'], quiet.ctx)).toBe(1);
    expect(quiet.stderr).toEqual(['interlock: migration 0003 failed: relation "x" exists']);

    const verbose = testContext(cwd, {}, { migrate: failing });
    expect(await runCli(['db', 'migrate'], { ...verbose.ctx, debug: true })).toBe(1);
    expect(verbose.stderr[0]).toBe('interlock: migration 0003 failed: relation "x" exists');
    expect(verbose.stderr[1]).toMatch(/^InternalError: migration 0003 failed[^\n]*\n\s+at /);
  });
});
