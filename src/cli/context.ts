import type { Command } from 'commander';
import { loadConfig, type ConfigEnv, type ConfigFlags, type InterlockConfig } from '../config/index.js';
import type { CliDeps } from './deps.js';

/** Where the CLI writes. Each call writes `text` and a newline. */
export interface CliIo {
  /** Standard output: results, tables, JSON. */
  out(text: string): void;
  /** Standard error: errors and diagnostics. */
  err(text: string): void;
}

/** Everything a command needs from outside, injected so tests run commands in-process. */
export interface CliContext {
  readonly io: CliIo;
  /** The environment, read by `loadConfig` (only `main.ts` touches `process.env`). */
  readonly env: ConfigEnv;
  /** Absolute working directory. */
  readonly cwd: string;
  readonly deps: CliDeps;
  /** Print stack traces with errors (`INTERLOCK_DEBUG=1`). */
  readonly debug: boolean;
  /** The current time, ms since the Unix epoch (ages in tables). */
  now(): number;
  /**
   * The API token of the `missions` and `approvals` commands when `--token` is not given
   * (`INTERLOCK_TOKEN`, read by `main.ts`); absent when unset.
   */
  readonly apiToken?: string;
  /** Asks a yes/no question at the terminal; absent when standard input is not a terminal. */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** The options every command accepts (declared on the program). */
export interface GlobalOptions {
  readonly config?: string;
  readonly json?: boolean;
  readonly dataDir?: string;
  readonly logLevel?: string;
}

/** A failure the CLI reports as one line with its own exit code: 1 for errors, 2 for usage errors. */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The global options as `command` sees them (set before or after the command name). */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * Loads the configuration for `command`: the global `--config`, `--data-dir` and `--log-level`
 * plus the command's own config `flags`, over the environment and the file.
 * @throws ConfigError `CONFIG_INVALID` or `CONFIG_FILE_UNREADABLE` (see `loadConfig`).
 */
export function configFor(ctx: CliContext, command: Command, flags: ConfigFlags = {}): InterlockConfig {
  const globals = globalOptions(command);
  return loadConfig({
    env: ctx.env,
    cwd: ctx.cwd,
    flags: { config: globals.config, dataDir: globals.dataDir, logLevel: globals.logLevel, ...flags },
  });
}
