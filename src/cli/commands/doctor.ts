import type { Command } from 'commander';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { renderTable, toJson } from '../output.js';

/**
 * Registers `interlock doctor`: runs `deps.doctor(config)` and prints each check as a table (the
 * report as JSON with `--json`). Exits 1 when any check failed, naming the failed checks on stderr.
 */
export function registerDoctorCommand(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check the installation: configuration, database, schema, data directory')
    .action(async (_options: unknown, command: Command) => {
      const report = await ctx.deps.doctor(configFor(ctx, command));
      if (globalOptions(command).json === true) ctx.io.out(toJson(report));
      else ctx.io.out(renderTable(['CHECK', 'STATUS', 'DETAIL'], report.checks.map((check) => [check.name, check.status, check.detail])));
      if (!report.ok) {
        const failed = report.checks.filter((check) => check.status === 'fail').map((check) => check.name);
        throw new CliError(failed.length > 0 ? `${failed.length} of ${report.checks.length} checks failed: ${failed.join(', ')}` : 'doctor reports the installation is not healthy');
      }
    });
}
