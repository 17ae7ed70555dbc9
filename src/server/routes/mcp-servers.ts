import { z } from 'zod';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { McpGateway } from '../../connectors/mcp/index.js';
import { RISK_CLASSES } from '../../core/tools/tool.js';
import { InputError } from '../../core/errors.js';
import { requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** What the MCP server routes need: the gateway, or undefined when no external MCP server is configured. */
export interface McpServersRoutesOptions {
  readonly gateway: Pick<McpGateway, 'status' | 'accept' | 'reject'> | undefined;
}

const McpToolStatusSchema = z.object({
  name: z.string().describe('The tool\'s name on its server.'),
  tool: z.string().nullable().describe('Its catalog name, <server>.<name>; null for a refused tool.'),
  state: z.enum(['accepted', 'held', 'refused', 'removed']),
  reason: z.string().nullable().describe('Why it is held, refused or removed.'),
  risk: z.enum(RISK_CLASSES).describe('Risk class from the configuration (write-prod when not configured).'),
  hints: z.record(z.string(), z.unknown()).nullable().describe('The server\'s annotations: shown, never trusted.'),
  digest: z.string().nullable().describe('SHA-256 of the canonical JSON of the definition offered now.'),
  acceptedDigest: z.string().nullable().describe('SHA-256 of the accepted definition.'),
}).meta({ id: 'McpToolStatus' });

const McpServerStatusSchema = z.object({
  name: z.string(),
  transport: z.enum(['stdio', 'http']),
  state: z.enum(['connecting', 'connected', 'degraded', 'unavailable']),
  lastError: z.string().nullable(),
  lastErrorAt: z.number().nullable().describe('ms since the Unix epoch'),
  breaker: z.object({
    state: z.enum(['closed', 'open', 'half-open']),
    failures: z.int().describe('Consecutive failed calls.'),
    openUntil: z.number().nullable().describe('ms since the Unix epoch'),
  }),
  tools: z.array(McpToolStatusSchema),
}).meta({ id: 'McpServerStatus' });

const ToolParams = z.object({
  server: z.string().min(1).max(64).describe('Name of the external MCP server (mcp.servers[].name).'),
  tool: z.string().min(1).max(200).describe('The tool\'s name on its server.'),
});

const FORBIDDEN = errorResponse('FORBIDDEN: the admin role is required.');
const REVIEW_RESPONSES = {
  200: z.object({ tool: McpToolStatusSchema }),
  400: errorResponse('INPUT_INVALID'),
  401: UNAUTHENTICATED,
  403: FORBIDDEN,
  404: errorResponse('MCP_SERVER_NOT_FOUND or MCP_TOOL_NOT_FOUND'),
  409: errorResponse('MCP_TOOL_NOT_HELD: the tool is not held for review.'),
  503: errorResponse('AUDIT_UNAVAILABLE: the review could not be recorded, so it was not applied; try again.'),
};

/**
 * Operator routes of the MCP gateway (docs/connectors/mcp.md): `GET /mcp/servers` (state, breaker,
 * last error and tools of each external MCP server), and `POST /mcp/servers/:server/tools/:tool/accept`
 * and `/reject` to review a held tool. Every one needs `admin` on all projects; the reviewer recorded
 * is the calling principal. Register under `/v1`.
 */
export const mcpServersRoutes: FastifyPluginCallbackZod<McpServersRoutesOptions> = (app, { gateway }, done) => {
  const gatewayOrThrow = (server: string): Pick<McpGateway, 'status' | 'accept' | 'reject'> => {
    if (gateway === undefined) {
      throw new InputError('MCP_SERVER_NOT_FOUND', `No external MCP server is named "${server}": mcp.servers is empty.`, [
        { path: 'server', message: 'unknown MCP server', expected: 'a configured server (mcp.servers is empty)', received: JSON.stringify(server) },
      ]);
    }
    return gateway;
  };

  app.get('/mcp/servers', {
    schema: {
      tags: ['mcp'],
      summary: 'List external MCP servers',
      description: 'Each configured external MCP server with its connection state, circuit breaker, last error and tools (accepted, held for review, refused, removed) with their risk and hints.',
      response: { 200: z.object({ servers: z.array(McpServerStatusSchema) }), 401: UNAUTHENTICATED, 403: FORBIDDEN },
    },
  }, (request) => {
    requirePermission(request, 'admin', '*');
    return { servers: (gateway?.status() ?? []).map((server) => ({ ...server, tools: [...server.tools] })) };
  });

  app.post('/mcp/servers/:server/tools/:tool/accept', {
    schema: {
      tags: ['mcp'],
      summary: 'Accept a held MCP tool',
      description: 'Pins the held definition (recorded as mcp.tool.reviewed with the caller as reviewer); the tool becomes callable if the server still offers that definition.',
      params: ToolParams,
      response: REVIEW_RESPONSES,
    },
  }, async (request) => {
    const principal = requirePermission(request, 'admin', '*');
    const { server, tool } = request.params;
    request.log.warn({ server, tool, by: principal.name }, 'MCP tool accepted through the API');
    return { tool: await gatewayOrThrow(server).accept(server, tool, principal.name) };
  });

  app.post('/mcp/servers/:server/tools/:tool/reject', {
    schema: {
      tags: ['mcp'],
      summary: 'Reject a held MCP tool',
      description: 'Records the rejection (mcp.tool.reviewed); the tool stays held and its calls refused.',
      params: ToolParams,
      body: z.object({ reason: z.string().trim().min(1).max(500).optional().describe('Why, for the record.') }).strict().optional(),
      response: REVIEW_RESPONSES,
    },
  }, async (request) => {
    const principal = requirePermission(request, 'admin', '*');
    const { server, tool } = request.params;
    request.log.warn({ server, tool, by: principal.name }, 'MCP tool rejected through the API');
    return { tool: await gatewayOrThrow(server).reject(server, tool, principal.name, request.body?.reason) };
  });

  done();
};
