import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { reviewScript, type ScriptReview } from '../../agents/assistants/script-review.js';
import { CliError, globalOptions, type CliContext } from '../context.js';
import { renderTable, toJson, truncate } from '../output.js';

/** The heading of every human-readable script review. */
export const SCRIPT_REVIEW_HEADING = 'DRAFT — script review by Interlock (read-only; decides nothing)';

async function readScript(ctx: CliContext, file: string): Promise<string> {
  try {
    return await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`);
  }
}

/** The review as text: heading, summary, findings table, checklist and test ideas. */
function reviewText(review: ScriptReview): string {
  const lines = [SCRIPT_REVIEW_HEADING, '', review.summary, ''];
  lines.push(review.findings.length === 0
    ? 'findings: none'
    : `findings:\n${renderTable(['id', 'severity', 'category', 'line', 'excerpt', 'finding'], review.findings.map((f) => [f.id, f.severity, f.category, `${f.line}:${f.column}`, truncate(f.excerpt, 50), truncate(f.message, 80)]))}`);
  lines.push('', 'checklist:', ...review.checklist.map((c) => `  [${c.status === 'pass' ? 'x' : c.status === 'fail' ? ' ' : '?'}] ${c.item}${c.status === 'fail' ? ' (fails)' : c.status === 'check' ? ' (check by hand)' : ''}`));
  lines.push('', review.testIdeas.length === 0 ? 'test ideas: none' : 'test ideas:', ...review.testIdeas.map((idea) => `  - ${idea}`));
  lines.push('', `parsed by ${review.parse.parser}: ${review.parse.errors} syntax error(s)`);
  return lines.join('\n');
}

/**
 * Registers `interlock assist review-script <file> [--tests <file>...]`: a draft, read-only review of
 * a PowerShell or shell script (risky operations, -WhatIf/dry run, logging, secrets, rollback, error
 * handling, tests). Files are read relative to the working directory; nothing is run. See
 * docs/assistants.md. Creates the `assist` group (or reuses it when already registered) and returns it,
 * so the other assistants' commands can be added to the same group.
 */
export function registerAssistCommand(program: Command, ctx: CliContext): Command {
  const assist = program.commands.find((command) => command.name() === 'assist')
    ?? program.command('assist').description('read-only assistants that draft for a person; they decide nothing');
  assist
    .command('review-script')
    .description('draft a review of a PowerShell or shell script before it runs in production')
    .argument('<file>', 'the script (.ps1, .sh, .bash; otherwise detected from the shebang)')
    .option('--tests <file...>', 'Pester (*.Tests.ps1) or bats (*.bats) files that test the script')
    .action(async (file: string, options: { tests?: string[] }, command: Command) => {
      const text = await readScript(ctx, file);
      const tests = await Promise.all((options.tests ?? []).map(async (path) => ({ path, text: await readScript(ctx, path) })));
      const review = await reviewScript({ path: file, text, tests });
      ctx.io.out(globalOptions(command).json === true ? toJson(review) : reviewText(review));
    });
  return assist;
}
