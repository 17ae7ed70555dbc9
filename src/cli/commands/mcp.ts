import type { Command } from 'commander';
import { RISK_CLASSES } from '../../core/tools/tool.js';
import { withApiOptions, apiBaseUrl } from '../api.js';
import { CliError, type CliContext } from '../context.js';

interface McpOptions {
  readonly project: string;
  readonly tag?: string;
  readonly risk?: string;
  readonly url?: string;
  readonly token?: string;
}

function list(text: string | undefined): string[] | undefined {
  const items = text?.split(',').map((item) => item.trim()).filter((item) => item !== '');
  return items === undefined || items.length === 0 ? undefined : items;
}

/**
 * Registers `interlock mcp [--project <p>] [--tag <a,b>] [--risk <read,draft>]`: Interlock's MCP
 * server over stdio for clients that launch servers as processes. It relays to a running server's
 * `/mcp` endpoint under `--token` / `$INTERLOCK_TOKEN` (docs/mcp.md); stdout carries the protocol,
 * diagnostics go to stderr.
 */
export function registerMcpCommand(program: Command, ctx: CliContext): void {
  withApiOptions(program.command('mcp'))
    .description("serve Interlock's governed tools to an MCP client over stdio (relays to a running server's /mcp)")
    .option('--project <project>', 'project whose governed tools the session serves', 'default')
    .option('--tag <tags>', 'only tools carrying every one of these comma-separated tags')
    .option('--risk <classes>', `only tools of these comma-separated risk classes (${RISK_CLASSES.join(', ')})`)
    .action(async (options: McpOptions, command: Command) => {
      const token = options.token ?? ctx.apiToken;
      if (token === undefined) throw new CliError('interlock mcp needs an API token: set INTERLOCK_TOKEN (or pass --token) to a token of the principal the client acts as', 2);
      const risks = list(options.risk);
      const bad = risks?.find((risk) => !(RISK_CLASSES as readonly string[]).includes(risk));
      if (bad !== undefined) throw new CliError(`--risk names "${bad}"; expected risk classes among ${RISK_CLASSES.join(', ')}`, 2);
      if (ctx.deps.mcpBridge === undefined) throw new CliError('this build of the CLI cannot serve MCP over stdio', 1);
      const tags = list(options.tag);
      await ctx.deps.mcpBridge({
        baseUrl: apiBaseUrl(ctx, command), token, project: options.project,
        ...(tags === undefined ? {} : { tags }), ...(risks === undefined ? {} : { risks }),
        log: (line) => ctx.io.err(line),
      });
    });
}
