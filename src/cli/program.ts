import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { formatConfigIssue, LOG_LEVELS } from '../config/index.js';
import { ConfigError, InterlockError, type Issue } from '../core/errors.js';
import { registerAgentsCommand } from './commands/agents.js';
import { registerApprovalsCommand } from './commands/approvals.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDbCommand } from './commands/db.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEstateCommand } from './commands/estate.js';
import { registerKillSwitchCommand } from './commands/kill-switch.js';
import { registerMcpCommand } from './commands/mcp.js';
import { registerAssistCommand } from './commands/assist.js';
import { registerAssistDraftCommands } from './commands/assist-drafts.js';
import { registerMcpServersCommand } from './commands/mcp-servers.js';
import { registerMissionsCommand } from './commands/missions.js';
import { registerSignalsCommands } from './commands/signals.js';
import { registerTicketsCommand } from './commands/tickets.js';
import { registerPolicyCommand } from './commands/policy.js';
import { registerPrincipalsCommand } from './commands/principals.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTokensCommand } from './commands/tokens.js';
import { CliError, type CliContext } from './context.js';

/** Exit code of a failed command. */
const EXIT_ERROR = 1;
/** Exit code of a usage error: unknown command or option, bad or missing argument. */
const EXIT_USAGE = 2;

/** The package version, from package.json (two levels up from both `src/cli` and `dist/cli`). */
function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

/**
 * Builds the `interlock` program with every command registered on `ctx`. Output goes through
 * `ctx.io`; commander never exits the process (errors are thrown and mapped by {@link runCli}).
 */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('interlock')
    .description('Interlock: the governed control plane between AI agents and production infrastructure')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--config <file>', 'configuration file (default: $INTERLOCK_CONFIG, else ./interlock.yaml if present)')
    .option('--json', 'print JSON for scripts instead of tables')
    .option('--data-dir <dir>', 'data directory (dataDir)')
    .addOption(new Option('--log-level <level>', 'log level (log.level)').choices(LOG_LEVELS))
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => ctx.io.out(text.replace(/\n$/, '')),
      writeErr: (text) => ctx.io.err(text.replace(/\n$/, '')),
      // Usage errors are reported by runCli as one `interlock: ...` line.
      outputError: () => undefined,
    });
  registerServeCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerDbCommand(program, ctx);
  registerDoctorCommand(program, ctx);
  registerKillSwitchCommand(program, ctx);
  registerConfigCommand(program, ctx);
  registerMissionsCommand(program, ctx);
  registerSignalsCommands(program, ctx);
  registerTicketsCommand(program, ctx);
  registerPolicyCommand(program, ctx);
  registerApprovalsCommand(program, ctx);
  registerPrincipalsCommand(program, ctx);
  registerTokensCommand(program, ctx);
  registerAuditCommand(program, ctx);
  registerEstateCommand(program, ctx);
  registerMcpCommand(program, ctx);
  registerAssistDraftCommands(registerAssistCommand(program, ctx), ctx);
  registerMcpServersCommand(program, ctx);
  registerAgentsCommand(program, ctx);
  return program;
}

/**
 * Runs the CLI on `args` (the arguments after the program name) and returns the exit code:
 * 0 on success (and for `--help` and `--version`), 1 when the command failed, 2 for a usage error.
 * A failure is written to `ctx.io.err` as one line `interlock: <message>`, followed for a
 * `ConfigError` (or an error whose `details.issues` lists problems, such as an `INPUT_INVALID`
 * answer of the API) by one line per issue, and by the stack when `ctx.debug` is set. A password
 * in a URL (`scheme://user:password@host`) is masked in these lines. Never throws.
 */
export async function runCli(args: readonly string[], ctx: CliContext): Promise<number> {
  try {
    await createProgram(ctx).parseAsync([...args], { from: 'user' });
    return 0;
  } catch (error) {
    return report(error, ctx);
  }
}

/** Writes `error` to stderr as the CLI reports failures and returns the exit code. */
function report(error: unknown, ctx: CliContext): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0; // --help, --version
    // Help shown for a command group run without a subcommand: the help text is the message.
    if (error.code === 'commander.help') return EXIT_USAGE;
    ctx.io.err(`interlock: ${maskUrlPasswords(oneLine(error.message.replace(/^error: /, '')))}; see interlock --help`);
    return EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  ctx.io.err(`interlock: ${maskUrlPasswords(oneLine(message))}`);
  if (error instanceof ConfigError) {
    // The message already names a single unreadable file or YAML error; every other issue gets a line.
    if (error.code === 'CONFIG_INVALID' || error.issues.length > 1) for (const issue of error.issues) ctx.io.err(`  ${formatConfigIssue(issue)}`);
  } else if (error instanceof InterlockError) {
    for (const issue of detailIssues(error)) ctx.io.err(`  ${maskUrlPasswords(oneLine(formatConfigIssue(issue)))}`);
  }
  if (ctx.debug) ctx.io.err(maskUrlPasswords(debugText(error)));
  return error instanceof CliError ? error.exitCode : EXIT_ERROR;
}

/** The well-formed entries of `details.issues` (an API error answer carries them there). */
function detailIssues(error: InterlockError): Issue[] {
  const { issues } = error.details;
  if (!Array.isArray(issues)) return [];
  return issues.filter((issue): issue is Issue => typeof issue === 'object' && issue !== null && typeof (issue as Issue).path === 'string' && typeof (issue as Issue).message === 'string');
}

/** `text` with the password of every `scheme://user:password@` replaced by `***`. */
function maskUrlPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi, '$1:***@');
}

function oneLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '').join(' ');
}

/** The stack of `error` and of each error in its `cause` chain. */
function debugText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : JSON.stringify(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
