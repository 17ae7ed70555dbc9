import type { Command } from 'commander';
import { integerIn } from '../arguments.js';
import { configFor, type CliContext } from '../context.js';

interface ServeOptions {
  readonly host?: string;
  readonly port?: number;
  readonly workerId?: string;
}

/**
 * Registers `interlock serve [--host <host>] [--port <port>] [--worker-id <id>]`: runs the HTTP
 * API and the mission engine with `deps.serve(config)` until it shuts down (SIGINT or SIGTERM).
 * The flags win over the environment and the configuration file.
 */
export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the HTTP API and the mission engine until stopped (SIGINT or SIGTERM)')
    .option('--host <host>', 'interface to listen on (server.host)')
    .option('--port <port>', 'TCP port to listen on, 0 for any free port (server.port)', integerIn(0, 65_535))
    .option('--worker-id <id>', 'stable ID of this worker (engine.workerId)')
    .action(async (options: ServeOptions, command: Command) => {
      const config = configFor(ctx, command, { host: options.host, port: options.port, workerId: options.workerId });
      await ctx.deps.serve(config);
    });
}
