import type { Command } from 'commander';
import { stringify } from 'yaml';
import { redactConfig } from '../../config/index.js';
import { configFor, globalOptions, type CliContext } from '../context.js';
import { toJson } from '../output.js';

/**
 * Registers `interlock config print`: the resolved configuration (file, environment, flags and
 * defaults) with secrets redacted, as YAML, or JSON with `--json`. Exits 1 with every issue listed
 * when the configuration is invalid.
 */
export function registerConfigCommand(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('print')
    .description('print the resolved configuration with secrets redacted, as YAML (JSON with --json)')
    .action((_options: unknown, command: Command) => {
      const resolved = redactConfig(configFor(ctx, command));
      ctx.io.out(globalOptions(command).json === true ? toJson(resolved) : stringify(resolved).trimEnd());
    });
}
