import type { Command } from 'commander';
import { configFor, globalOptions, type CliContext } from '../context.js';
import { toJson } from '../output.js';

/**
 * Registers `interlock db migrate`: brings the database schema to the latest version with
 * `deps.migrate(config)` and prints what was applied (`{ applied, current }` with `--json`).
 */
export function registerDbCommand(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('manage the database');
  db
    .command('migrate')
    .description('bring the database schema to the latest version')
    .action(async (_options: unknown, command: Command) => {
      const result = await ctx.deps.migrate(configFor(ctx, command));
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(result));
        return;
      }
      const current = result.current ?? '(empty)';
      if (result.applied.length === 0) ctx.io.out(`schema is up to date at ${current}`);
      else ctx.io.out(`applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} (${result.applied.join(', ')}); schema is at ${current}`);
    });
}
