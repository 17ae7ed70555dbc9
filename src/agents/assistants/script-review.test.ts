import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAssistCommand, SCRIPT_REVIEW_HEADING } from '../../cli/commands/assist.js';
import type { CliContext } from '../../cli/context.js';
import type { CliDeps } from '../../cli/deps.js';
import { detectScriptLanguage, reviewScript, ScriptReviewSchema, type ScriptFinding, type ScriptReview } from './script-review.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/scripts/', import.meta.url));
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

async function review(name: string, tests: string[] = []): Promise<ScriptReview> {
  return reviewScript({ path: `test/fixtures/scripts/${name}`, text: fixture(name), tests: tests.map((path) => ({ path, text: fixture(path) })) });
}

/** The findings of `category` on `line`. */
function at(result: ScriptReview, category: ScriptFinding['category'], line: number): ScriptFinding[] {
  return result.findings.filter((f) => f.category === category && f.line === line);
}

function status(result: ScriptReview, item: string): string | undefined {
  return result.checklist.find((c) => c.item === item)?.status;
}

describe('reviewScript on a risky PowerShell maintenance script', () => {
  let result: ScriptReview;
  beforeEach(async () => {
    result = await review('risky-maintenance.ps1');
  });

  it('is a draft parsed by tree-sitter-powershell without errors, and matches the schema', () => {
    expect(ScriptReviewSchema.parse(result)).toEqual(result);
    expect(result).toMatchObject({ draft: true, language: 'powershell', parse: { parser: 'tree-sitter-powershell', errors: 0 } });
    expect(result.summary).toMatch(/^Draft review of test\/fixtures\/scripts\/risky-maintenance\.ps1 \(PowerShell, 96 lines/);
    expect(result.summary).toContain('decides nothing');
  });

  it('flags each destructive operation on its line', () => {
    const risky = (line: number) => at(result, 'risky-operation', line)[0];
    expect(risky(35)).toMatchObject({ severity: 'high', column: 5, excerpt: 'Remove-Item -Path "$Root\\archive\\*" -Recurse -Force' });
    expect(risky(35)?.message).toContain('if $Root is empty or wrong');
    expect(risky(39)).toMatchObject({ severity: 'high', excerpt: 'Stop-Service -Name "ReportingService" -Force' });
    expect(risky(53)).toMatchObject({ severity: 'medium' });
    expect(risky(53)?.message).toContain('registry');
    expect(risky(59)).toMatchObject({ severity: 'high', excerpt: 'Invoke-Expression $command' });
    expect(risky(68)?.message).toContain('Set-ExecutionPolicy Bypass');
    expect(risky(95)).toMatchObject({ severity: 'high', excerpt: 'Restart-Computer -Force' });
    // iex (an alias) and the TRUNCATE inside its string.
    expect(at(result, 'risky-operation', 87).map((f) => f.message)).toEqual([expect.stringMatching(/^iex: runs a string as code/), 'Inline SQL drops or truncates data.']);
  });

  it('finds the secrets and masks them in every excerpt and message', () => {
    expect(at(result, 'exposed-secret', 14)[0]?.excerpt).toBe("$SmtpPassword = '***'");
    expect(at(result, 'exposed-secret', 15)[0]).toMatchObject({ severity: 'high', excerpt: 'ConvertTo-SecureString "***" -AsPlainText -Force' });
    expect(at(result, 'exposed-secret', 17)[0]?.excerpt).toBe('$ApiToken = "***"');
    expect(at(result, 'exposed-secret', 64)[0]?.excerpt).toBe('"https://reporter:***@reports.contoso.example/api/upload"');
    const printed = JSON.stringify(result);
    for (const secret of ['Mail#Relay-2024', 'Winter2024!Reporting', 'ghp_4f9a1c2e', 'S3cretPass']) expect(printed).not.toContain(secret);
  });

  it('reports functions that change state without SupportsShouldProcess, and the script itself', () => {
    const whatIf = result.findings.filter((f) => f.category === 'missing-whatif');
    expect(whatIf.map((f) => [f.line, f.severity])).toEqual([[27, 'high'], [38, 'high'], [44, 'medium'], [52, 'medium'], [56, 'high'], [68, 'medium']]);
    expect(whatIf[0]?.message).toContain('Function Remove-OldLogs changes state (Remove-Item)');
  });

  it('reports the empty catch, the missing rollback, error handling, logging and tests', () => {
    expect(at(result, 'weak-logging', 48)[0]?.message).toMatch(/empty catch block swallows/);
    expect(result.findings.filter((f) => f.category === 'missing-rollback')).toHaveLength(1);
    expect(result.findings.find((f) => f.category === 'error-handling')?.message).toMatch(/^No \$ErrorActionPreference = 'Stop'/);
    expect(result.findings.find((f) => f.category === 'weak-logging' && f.line === 74)?.message).toContain('only Write-Host');
    expect(result.findings.find((f) => f.category === 'thin-tests')?.message).toContain('No tests were given for the functions that change state (Remove-OldLogs');
    expect(status(result, 'Destructive operations support -WhatIf')).toBe('fail');
    expect(status(result, 'No secrets in the script')).toBe('fail');
    expect(status(result, 'A rollback path exists')).toBe('fail');
  });

  it('derives concrete Pester test ideas from the findings', () => {
    expect(result.testIdeas).toContain('Call Remove-OldLogs with an empty $Root and assert it refuses (throws) and Remove-Item is never invoked (Mock Remove-Item; Should -Invoke Remove-Item -Times 0)');
    expect(result.testIdeas).toContain('Run Remove-OldLogs with -WhatIf and assert nothing changes (Mock Remove-Item; Should -Invoke Remove-Item -Times 0)');
  });

  it('numbers findings in line order and keeps excerpts within 160 characters', async () => {
    expect(result.findings.map((f) => f.id)).toEqual(result.findings.map((_, k) => `SR-${String(k + 1).padStart(2, '0')}`));
    const lines = result.findings.map((f) => f.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    const long = await reviewScript({ text: `Remove-Item -Recurse -Path "$Root\\${'x'.repeat(300)}"`, language: 'powershell' });
    expect(long.findings[0]?.excerpt).toHaveLength(160);
  });
});

describe('reviewScript on a well-written PowerShell script', () => {
  it('has no high- or medium-severity findings with its Pester tests, and every automatic check passes', async () => {
    const result = await review('safe-log-rotation.ps1', ['safe-log-rotation.Tests.ps1']);
    expect(result.findings.filter((f) => f.severity !== 'low')).toEqual([]);
    expect(result.findings).toEqual([expect.objectContaining({ category: 'risky-operation', line: 71, severity: 'low' })]);
    expect(result.checklist.filter((c) => c.status === 'fail')).toEqual([]);
  });

  it('without tests gets only a thin-tests finding, not a high one', async () => {
    const result = await review('safe-log-rotation.ps1');
    expect(result.findings.filter((f) => f.severity === 'high')).toEqual([]);
    expect(result.findings.filter((f) => f.category === 'thin-tests').map((f) => f.message)).toEqual(['No tests were given for the functions that change state (Move-OldLogs, Restore-Logs).']);
  });

  it('reports destructive functions the tests do not call', async () => {
    const result = await reviewScript({ path: 'safe-log-rotation.ps1', text: fixture('safe-log-rotation.ps1'), tests: [{ path: 'partial.Tests.ps1', text: "Describe 'Move-OldLogs' { It 'works' { Move-OldLogs -Source x -Archive y -Cutoff (Get-Date) -WhatIf } }" }] });
    expect(result.findings.filter((f) => f.category === 'thin-tests').map((f) => [f.line, f.message])).toEqual([[44, 'No test calls Restore-Logs, which changes state.']]);
    expect(status(result, 'Tests cover the destructive functions')).toBe('fail');
  });
});

describe('reviewScript on a risky bash deploy script', () => {
  let result: ScriptReview;
  beforeEach(async () => {
    result = await review('risky-deploy.sh');
  });

  it('is parsed by sh-syntax and flags rm -rf on an unchecked variable, curl | bash, chmod 777, kubectl delete, systemctl stop and DROP', () => {
    expect(result.parse).toEqual({ parser: 'sh-syntax', errors: 0 });
    const risky = (line: number) => at(result, 'risky-operation', line)[0];
    expect(risky(19)).toMatchObject({ severity: 'high', column: 3, excerpt: 'rm -rf "$DEPLOY_DIR/"' });
    expect(risky(19)?.message).toContain('$DEPLOY_DIR is never checked, so if it is empty or unset this removes /');
    expect(risky(20)?.message).toContain('an unquoted variable is split and globbed');
    expect(risky(14)).toMatchObject({ severity: 'high', excerpt: 'curl -fsSL https://get.example.com/install.sh | bash' });
    expect(risky(15)).toMatchObject({ severity: 'high', excerpt: 'chmod -R 777 /opt/checkout' });
    expect(risky(26)?.severity).toBe('high');
    expect(risky(28)).toMatchObject({ severity: 'high', excerpt: 'kubectl delete deployment checkout --namespace prod' });
    expect(risky(30)?.message).toBe('Inline SQL drops or truncates data.');
  });

  it('finds and masks the secrets: variables, an exported AWS key, a token and a URL password', () => {
    expect([7, 8, 9, 31].map((line) => at(result, 'exposed-secret', line)[0]?.excerpt)).toEqual([
      'DB_PASSWORD="***"', 'export AWS_SECRET_ACCESS_KEY=***', 'API_TOKEN=***', 'curl -s "https://admin:***@deploy.example.com/notify?release=$RELEASE" >/dev/null',
    ]);
    const printed = JSON.stringify(result);
    for (const secret of ['s3cr3t-Passw0rd', 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY', 'tok_live_51Hx', 'hunter2']) expect(printed).not.toContain(secret);
  });

  it('reports swallowed errors, no set -euo pipefail, no dry run, no trap and no tests', () => {
    expect(at(result, 'weak-logging', 27)[0]?.message).toBe('Error output of tar is thrown away (2>/dev/null) on a command that changes state.');
    expect(at(result, 'weak-logging', 28)[0]?.message).toMatch(/A failure of kubectl is ignored \(\|\| true\)/);
    expect(at(result, 'error-handling', 1)[0]?.message).toMatch(/^The script does not set -e, -u, -o pipefail/);
    expect(result.findings.filter((f) => f.category === 'missing-whatif').map((f) => f.message)).toEqual([expect.stringContaining('no dry-run mode')]);
    expect(result.findings.filter((f) => f.category === 'missing-rollback').map((f) => f.severity)).toEqual(['high']);
    expect(result.findings.find((f) => f.category === 'thin-tests')?.message).toBe('No tests were given for the functions that change state (install_tools, clean_old).');
    expect(result.testIdeas).toContain('bats: run clean_old() with DEPLOY_DIR empty and assert it exits non-zero before rm runs (put an rm shim on PATH that records its arguments)');
    expect(status(result, 'Runs with set -euo pipefail')).toBe('fail');
  });
});

describe('reviewScript on a well-written bash script', () => {
  it('has no high- or medium-severity findings and passes every automatic check with its bats tests', async () => {
    const result = await review('safe-deploy.sh', ['safe-deploy.bats']);
    expect(result.findings.filter((f) => f.severity !== 'low')).toEqual([]);
    expect(result.checklist.filter((c) => c.status === 'fail')).toEqual([]);
    // The restarts go through run(), which honours --dry-run.
    expect(result.findings.map((f) => [f.line, f.category, f.severity])).toEqual([[34, 'risky-operation', 'low'], [44, 'risky-operation', 'low']]);
  });
});

describe('input that does not parse', () => {
  it('still reviews broken PowerShell, with a finding saying it does not parse', async () => {
    const result = await reviewScript({ text: 'function Remove-Stuff {\n  Remove-Item -Recurse -Force $Path\n  if ($x {\n', language: 'powershell' });
    expect(result.parse.errors).toBeGreaterThan(0);
    expect(result.findings.find((f) => f.message.startsWith('The script does not parse'))).toMatchObject({ category: 'error-handling', severity: 'high' });
    expect(result.findings.some((f) => f.category === 'risky-operation' && f.line === 2)).toBe(true);
    expect(status(result, 'The script parses')).toBe('fail');
  });

  it('still reviews broken shell, pointing at the line sh-syntax reports', async () => {
    const result = await reviewScript({ text: '#!/bin/sh\nrm -rf "$TARGET"/\nif [ -d /tmp ]; then\n  echo missing fi\n', path: 'broken.sh' });
    expect(result.parse).toEqual({ parser: 'sh-syntax', errors: 1 });
    expect(result.findings.find((f) => f.message.startsWith('The script does not parse'))).toMatchObject({ line: 3, severity: 'high' });
    expect(at(result, 'risky-operation', 2)[0]?.severity).toBe('high');
  });

  it('reviews an empty script without failing', async () => {
    const result = await reviewScript({ text: '', language: 'shell' });
    expect(result).toMatchObject({ draft: true, findings: [], parse: { errors: 0 } });
  });
});

describe('detectScriptLanguage', () => {
  it.each([
    ['x.ps1', 'echo hi', 'powershell'],
    ['x.psm1', '', 'powershell'],
    ['deploy.sh', 'param($x)', 'shell'],
    ['t.bats', '', 'shell'],
    [undefined, '#!/usr/bin/env pwsh\nGet-Date', 'powershell'],
    [undefined, '#!/bin/bash\necho hi', 'shell'],
    [undefined, '#!/usr/bin/env bash\n', 'shell'],
    ['script', '[CmdletBinding()]\nparam()\nWrite-Host x', 'powershell'],
    ['script', 'echo hi\nls -l', 'shell'],
  ] as const)('%s with %j is %s', (path, text, language) => {
    expect(detectScriptLanguage(text, path)).toBe(language);
  });

  it('is used when the language is not given', async () => {
    expect((await reviewScript({ text: '#!/usr/bin/env pwsh\nRestart-Computer -Force\n' })).language).toBe('powershell');
  });
});

describe('interlock assist review-script', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'interlock-assist-'));
    writeFileSync(join(cwd, 'deploy.sh'), fixture('risky-deploy.sh'));
    writeFileSync(join(cwd, 'safe.sh'), fixture('safe-deploy.sh'));
    writeFileSync(join(cwd, 'safe.bats'), fixture('safe-deploy.bats'));
  });
  afterEach(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  /** Runs `interlock <args>` on a program with only the assist command registered (and the global --json). */
  async function cli(args: string[]) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const ctx: CliContext = { io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) }, env: {}, cwd, deps: {} as CliDeps, debug: false, now: () => 0 };
    const program = new Command('interlock').option('--json').exitOverride().configureOutput({ writeOut: (t) => ctx.io.out(t), writeErr: (t) => ctx.io.err(t) });
    registerAssistCommand(program, ctx);
    let error: unknown;
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (caught) {
      error = caught;
    }
    return { stdout: stdout.join('\n'), stderr, error };
  }

  it('prints the draft heading, summary, findings table, checklist and test ideas', async () => {
    const { stdout, error } = await cli(['assist', 'review-script', 'deploy.sh']);
    expect(error).toBeUndefined();
    expect(stdout.split('\n')[0]).toBe(SCRIPT_REVIEW_HEADING);
    expect(stdout).toContain('Draft review of deploy.sh (shell, 32 lines, parsed by sh-syntax)');
    expect(stdout).toMatch(/SR-\d+ +│ high +│ risky-operation +│ 19:3 +│ rm -rf "\$DEPLOY_DIR\/"/);
    expect(stdout).toContain('  [ ] No secrets in the script (fails)');
    expect(stdout).toContain('  [?] The targets (hosts, paths, namespaces) are the intended ones for this environment (check by hand)');
    expect(stdout).toContain('test ideas:\n  - ');
    expect(stdout).not.toContain('hunter2');
  });

  it('prints the review as JSON with --json and reads --tests files', async () => {
    const { stdout } = await cli(['--json', 'assist', 'review-script', 'safe.sh', '--tests', 'safe.bats']);
    const printed = ScriptReviewSchema.parse(JSON.parse(stdout));
    expect(printed).toMatchObject({ draft: true, language: 'shell', path: 'safe.sh' });
    expect(printed.checklist.find((c) => c.item === 'Tests cover the destructive functions')?.status).toBe('pass');
  });

  it('fails with a CliError naming the file when it cannot be read', async () => {
    const { error } = await cli(['assist', 'review-script', 'missing.ps1']);
    expect(error).toMatchObject({ name: 'CliError', exitCode: 1, message: 'cannot read missing.ps1: no such file' });
  });
});
