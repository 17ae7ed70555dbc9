import type { Command } from 'commander';
import { httpUrl, integerIn } from './arguments.js';
import { CliError, configFor, type CliContext } from './context.js';
import type { InterlockApi } from './deps.js';

/** The options of a command group that talks to the HTTP API. */
interface ApiOptions {
  readonly url?: string;
  readonly timeout: number;
  readonly token?: string;
}

/**
 * Declares `--url`, `--timeout` and `--token` on `command` (a command group whose subcommands talk to
 * a running server's HTTP API) and returns it.
 */
export function withApiOptions(command: Command): Command {
  return command
    .option('--url <url>', 'base URL of the server (default: http://<server.host>:<server.port> from the configuration)', httpUrl)
    .option('--timeout <ms>', 'time allowed for each request, ms', integerIn(1, 600_000), 10_000)
    .option('--token <token>', 'API token (default: $INTERLOCK_TOKEN; prefer the variable, a flag shows in the process list)');
}

/**
 * The API client for a subcommand of a group declared with {@link withApiOptions}: `--url`, else the
 * configured server address; `--token`, else `ctx.apiToken` (`INTERLOCK_TOKEN`).
 * @throws CliError (exit 2) when no URL is given and `server.port` is 0.
 */
export function apiFor(ctx: CliContext, command: Command): InterlockApi {
  const options = command.optsWithGlobals<ApiOptions>();
  const token = options.token ?? ctx.apiToken;
  return ctx.deps.createApiClient({ baseUrl: apiBaseUrl(ctx, command), timeoutMs: options.timeout, ...(token === undefined ? {} : { token }) });
}

/**
 * The API base URL of a subcommand of a group declared with {@link withApiOptions}: `--url`, else the
 * configured server address. @throws CliError (exit 2) when no URL is given and `server.port` is 0.
 */
export function apiBaseUrl(ctx: CliContext, command: Command): string {
  return command.optsWithGlobals<ApiOptions>().url ?? configuredUrl(ctx, command);
}

/** `http://<server.host>:<server.port>`, with a wildcard listen address replaced by loopback. */
function configuredUrl(ctx: CliContext, command: Command): string {
  const { server } = configFor(ctx, command);
  if (server.port === 0) throw new CliError('server.port is 0 (a free port chosen at start-up), so the API address is unknown: pass --url', 2);
  const host = server.host === '0.0.0.0' ? '127.0.0.1' : server.host === '::' ? '::1' : server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
}
