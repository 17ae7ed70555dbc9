import { z } from 'zod';
import { RISK_CLASSES } from '../../core/tools/tool.js';

/** The longest timer Node accepts, ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** An environment variable name (POSIX portable: letters, digits, `_`, not starting with a digit). */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** A project slug, as missions name their project. */
const ProjectSlug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a project slug');

/**
 * Names an external MCP server may not take: the built-in connectors' (tools are named
 * `<server>.<tool>`, so a server called `supervisor` would put its tools beside the real ones).
 */
export const RESERVED_MCP_SERVER_NAMES: readonly string[] = [
  'prometheus', 'alertmanager', 'supervisor', 'files', 'postgres', 'nginx', 'releases', 'scale', 'runbooks',
  'diagnosis', 'builtin', 'changes', 'logs', 'interlock', 'mcp',
];

/** How tool names of an external MCP server must look to be imported (MCP's SEP-986 character set, no dots). */
export const MCP_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The operator's classification of one tool of an external MCP server: the only source of its risk. */
const McpToolConfigSchema = z.object({
  risk: z.enum(RISK_CLASSES).describe('Risk class of the tool; the server\'s annotations (readOnlyHint…) are only shown, never trusted.'),
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lowercase tag')).max(20).optional()
    .describe('Extra catalog tags of the tool, besides `mcp` and the server name.'),
}).strict();

const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'a lowercase slug: letters, digits and "-", at most 31 characters')
    .refine((name) => !RESERVED_MCP_SERVER_NAMES.includes(name), { message: 'is the name of a built-in connector', params: { expected: `a name other than ${RESERVED_MCP_SERVER_NAMES.join(', ')}` } })
    .describe('Name of the server; its tools are `<name>.<tool>` in the catalog.'),
  enabled: z.boolean().default(true).describe('Connect to the server and offer its tools.'),
  projects: z.array(ProjectSlug).min(1).default(['default']).describe('Projects whose missions may call the server\'s tools.'),
  timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(30_000).describe('Longest one tool call may take, ms; a longer one fails with TOOL_TIMEOUT.'),
  maxResultBytes: z.int().min(1024).max(64 * 1024 * 1024).default(262_144)
    .describe('Largest tool result accepted, bytes of its JSON; a larger one fails with MCP_RESULT_TOO_LARGE.'),
  healthCheckIntervalMs: z.int().min(100).max(MAX_TIMER_MS).default(30_000)
    .describe('Interval between pings and tool-list checks of the server, ms.'),
  breaker: z.object({
    failures: z.int().min(1).max(1000).default(5).describe('Consecutive failed calls (transport errors, timeouts) that make the server unavailable.'),
    cooldownMs: z.int().min(1).max(MAX_TIMER_MS).default(30_000).describe('How long the server stays unavailable before one trial call, ms.'),
  }).strict().prefault({}).describe('Circuit breaker on calls to the server.'),
  tools: z.record(z.string().regex(MCP_TOOL_NAME, 'an MCP tool name: letters, digits, "_" or "-", at most 64'), McpToolConfigSchema).default({})
    .describe('Risk class (and tags) per tool name; a tool not listed has risk write-prod.'),
};

/** An external MCP server started as a child process, spoken to over its stdin and stdout. */
const McpStdioServerSchema = z.object({
  ...common,
  transport: z.literal('stdio'),
  command: z.string().min(1).describe('Program to run (a path, or a name found on PATH).'),
  args: z.array(z.string()).default([]).describe('Its arguments.'),
  env: z.record(EnvName, z.string()).default({}).describe('Environment variables set for it (not secrets: use envFrom).'),
  envFrom: z.record(EnvName, EnvName).default({})
    .describe('Environment variables set for it from Interlock\'s environment: `{ VAR: ENV_NAME }` sets VAR to the value of ENV_NAME.'),
  cwd: z.string().min(1).optional().describe('Its working directory. Default: Interlock\'s.'),
}).strict();

/** An external MCP server reached over Streamable HTTP. */
const McpHttpServerSchema = z.object({
  ...common,
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).describe('URL of the server\'s MCP endpoint, e.g. http://127.0.0.1:3001/mcp.'),
  bearerTokenEnv: EnvName.optional().describe('Environment variable holding the token sent as `Authorization: Bearer <token>`.'),
}).strict();

/** One external MCP server whose tools Interlock offers, governed (docs/connectors/mcp.md). */
export const ExternalMcpServerConfigSchema = z.discriminatedUnion('transport', [McpStdioServerSchema, McpHttpServerSchema]);

/** External MCP servers as tool providers (the gateway). */
export const ExternalMcpServersConfigSchema = z.array(ExternalMcpServerConfigSchema).max(100).default([]).superRefine((servers, ctx) => {
  const seen = new Set<string>();
  servers.forEach((server, index) => {
    if (seen.has(server.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: server.name, params: { expected: 'each server name once' }, message: `names ${server.name} twice` });
    seen.add(server.name);
    if (server.transport === 'http') {
      const url = new URL(server.url);
      if (url.username !== '' || url.password !== '') {
        ctx.addIssue({ code: 'custom', path: [index, 'url'], input: `${url.protocol}//***@${url.host}`, params: { expected: 'a URL without user or password (use bearerTokenEnv)' }, message: 'holds credentials' });
      }
    }
  });
});

/** A value and everything inside it made read-only, as `loadConfig` returns the configuration. */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** One configured external MCP server, as `loadConfig` returns it (read-only, every default filled in). */
export type ExternalMcpServerConfig = DeepReadonly<z.output<typeof ExternalMcpServerConfigSchema>>;
