import type { Command } from 'commander';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { toJson } from '../output.js';

/** Least time between two progress lines of one sink on stderr, ms. */
const PROGRESS_EVERY_MS = 1000;

function count(text: string, option: string, min: number): number {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) throw new CliError(`${option} must be a whole number >= ${min}; got ${JSON.stringify(text)}`, 2);
  return Number(text);
}

/**
 * Registers `interlock audit export [--sink <name>] [--from <index>] [--max-attempts <n>]` under the
 * `audit` command: runs the configured `audit.export.sinks` on the database directly until each has
 * caught up with the log as it was at the start, printing progress on stderr and one line per sink
 * on stdout (the report with `--json`). Exits 1 naming each sink that failed `--max-attempts` times
 * in a row, and why. See docs/audit.md, "Export to a SIEM".
 */
export function registerAuditExportCommand(audit: Command, ctx: CliContext): void {
  audit
    .command('export')
    .description('export the audit log to the configured SIEM sinks until they have caught up, then exit; exit 1 when a sink cannot make progress')
    .option('--sink <name>', 'only this sink (default: every sink in audit.export.sinks)')
    .option('--from <index>', "first move the sink's cursor to this entry index, to replay from there (needs --sink)")
    .option('--max-attempts <n>', 'failed attempts in a row after which a sink is given up', '5')
    .action(async (options: { sink?: string; from?: string; maxAttempts: string }, command: Command) => {
      const maxAttempts = count(options.maxAttempts, '--max-attempts', 1);
      const from = options.from === undefined ? undefined : count(options.from, '--from', 0);
      if (from !== undefined && options.sink === undefined) throw new CliError('--from needs --sink: a replay moves the cursor of one sink', 2);
      const config = configFor(ctx, command);
      const names = config.audit.export.sinks.map((sink) => sink.name);
      if (names.length === 0) throw new CliError('no audit export sinks are configured: add audit.export.sinks to the configuration (docs/configuration.md)');
      if (options.sink !== undefined && !names.includes(options.sink)) throw new CliError(`--sink: no sink is named ${JSON.stringify(options.sink)}; configured: ${names.join(', ')}`, 2);
      if (ctx.deps.exportAudit === undefined) throw new CliError('the audit export is not available in this build of the CLI');

      const lastProgress = new Map<string, number>();
      const report = await ctx.deps.exportAudit(config, {
        ...(options.sink === undefined ? {} : { sinks: [options.sink] }),
        ...(from === undefined ? {} : { from }),
        maxAttempts,
        onProgress: (progress) => {
          if (progress.kind === 'retry') {
            ctx.io.err(`audit export: ${progress.sink}: attempt ${progress.attempt} failed (${progress.failure.message}); retrying in ${progress.delayMs} ms`);
            return;
          }
          const now = ctx.now();
          if (progress.next < progress.target && now - (lastProgress.get(progress.sink) ?? Number.NEGATIVE_INFINITY) < PROGRESS_EVERY_MS) return;
          lastProgress.set(progress.sink, now);
          ctx.io.err(`audit export: ${progress.sink}: ${Math.min(progress.next, progress.target)}/${progress.target} entries`);
        },
      });

      if (globalOptions(command).json === true) ctx.io.out(toJson(report));
      else {
        for (const result of report.sinks) {
          ctx.io.out(result.ok
            ? `${result.sink}: caught up, cursor at ${result.next} (${result.exported} ${result.exported === 1 ? 'entry' : 'entries'} exported)`
            : `${result.sink}: FAILED after ${result.attempts} attempts, cursor at ${result.next} of ${result.target}: ${result.failure.message}`);
        }
      }
      const failed = report.sinks.filter((result) => !result.ok);
      if (failed.length > 0) {
        throw new CliError(`audit export failed: ${failed.map((result) => (result.ok ? '' : `sink ${result.sink}: ${result.failure.message} (${result.attempts} attempts in a row, cursor at ${result.next} of ${result.target})`)).join('; ')}`);
      }
    });
}
