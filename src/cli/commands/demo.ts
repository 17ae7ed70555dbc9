import type { Command } from 'commander';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { renderTable, toJson } from '../output.js';

/**
 * Registers `interlock demo`: the governed loop on a local estate of files (embedded PostgreSQL
 * unless DATABASE_URL is set), with live progress and a closing table. In a terminal it asks you to
 * approve; otherwise a scripted second identity decides. Exits 1 when a mission did not end as
 * expected.
 */
export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the governed loop on a local demo estate and show what happened')
    .action(async (_options: unknown, command: Command) => {
      const json = globalOptions(command).json === true;
      const report = await ctx.deps.demo({
        config: configFor(ctx, command),
        out: (line) => { if (!json) ctx.io.out(line); },
        ...(ctx.confirm === undefined || json ? {} : { confirm: ctx.confirm }),
      });
      if (json) ctx.io.out(toJson(report));
      else {
        ctx.io.out('');
        ctx.io.out(renderTable(
          ['MISSION', 'DECISION', 'APPROVAL', 'STEPS', 'VERIFIED', 'OUTCOME', 'TIME', 'EXPECTED'],
          report.rows.map((r) => [r.mission, r.decision, r.approval, r.steps, r.verified, r.outcome, `${(r.durationMs / 1000).toFixed(1)} s`, `${r.expected}${r.ok ? '' : ' (MISMATCH)'}`]),
        ));
      }
      if (!report.ok) throw new CliError('a demo mission did not end as expected; see the table');
    });
}
