import type { Command } from 'commander';
import { apiFor, withApiOptions } from '../api.js';
import { globalOptions, type CliContext } from '../context.js';
import type { McpServerView, McpToolView } from '../deps.js';
import { formatTime, renderTable, toJson, truncate } from '../output.js';

/** The servers as text: one line per server, then its tools. */
function serversText(servers: readonly McpServerView[]): string {
  if (servers.length === 0) return 'no external MCP servers configured (mcp.servers)';
  return servers.map((server) => {
    const breaker = server.breaker.state === 'closed' ? 'breaker closed' : `breaker ${server.breaker.state} after ${server.breaker.failures} failure(s)`;
    const lines = [`${server.name} (${server.transport}): ${server.state}, ${breaker}${server.lastError === null ? '' : `; last error ${server.lastErrorAt === null ? '' : `at ${formatTime(server.lastErrorAt)}`}: ${truncate(server.lastError, 120)}`}`];
    lines.push(server.tools.length === 0 ? '  no tools' : renderTable(['tool', 'state', 'risk', 'hints', 'reason'], server.tools.map((tool) => [
      tool.tool ?? tool.name, tool.state, tool.risk, hintsText(tool), truncate(tool.reason ?? '', 80),
    ])));
    return lines.join('\n');
  }).join('\n\n');
}

function hintsText(tool: McpToolView): string {
  if (tool.hints === null) return '-';
  const shown = Object.entries(tool.hints).filter(([key, value]) => key.endsWith('Hint') && value === true).map(([key]) => key.replace(/Hint$/, ''));
  return shown.length === 0 ? '-' : shown.join(',');
}

function toolText(verb: string, server: string, tool: McpToolView): string {
  return `${server}.${tool.name} ${verb}: now ${tool.state}${tool.reason === null ? '' : ` (${tool.reason})`}`;
}

/**
 * Registers `interlock mcp-servers list|accept|reject`: the external MCP servers behind the gateway
 * (state, breaker, tools and their review state) and the review of held tools, through a running
 * server's HTTP API; needs the admin role. See docs/connectors/mcp.md.
 */
export function registerMcpServersCommand(program: Command, ctx: CliContext): void {
  const servers = withApiOptions(program.command('mcp-servers').description("list external MCP servers and review their held tools through a running server's HTTP API"));
  servers
    .command('list')
    .description('list the external MCP servers with their state, breaker and tools (accepted, held, refused, removed)')
    .action(async (_options: unknown, command: Command) => {
      const list = await apiFor(ctx, command).listMcpServers();
      ctx.io.out(globalOptions(command).json === true ? toJson({ servers: list }) : serversText(list));
    });
  servers
    .command('accept')
    .description('accept the held definition of a tool: pin it and make the tool callable')
    .argument('<server>', 'name of the external MCP server')
    .argument('<tool>', "the tool's name on that server")
    .action(async (server: string, tool: string, _options: unknown, command: Command) => {
      const result = await apiFor(ctx, command).acceptMcpTool(server, tool);
      ctx.io.out(globalOptions(command).json === true ? toJson({ tool: result }) : toolText('accepted', server, result));
    });
  servers
    .command('reject')
    .description('reject the held definition of a tool: recorded, and the tool stays held')
    .argument('<server>', 'name of the external MCP server')
    .argument('<tool>', "the tool's name on that server")
    .option('--reason <text>', 'why, for the record')
    .action(async (server: string, tool: string, options: { reason?: string }, command: Command) => {
      const result = await apiFor(ctx, command).rejectMcpTool(server, tool, options.reason);
      ctx.io.out(globalOptions(command).json === true ? toJson({ tool: result }) : toolText('rejected', server, result));
    });
}
