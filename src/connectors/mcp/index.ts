export { ExternalMcpServerConfigSchema, ExternalMcpServersConfigSchema, MCP_TOOL_NAME, RESERVED_MCP_SERVER_NAMES, type ExternalMcpServerConfig } from './mcp-config.js';
export {
  createMcpGateway, type McpGateway, type McpGatewayLogger, type McpGatewayOptions, type McpPinRecord, type McpPinStore,
  type McpServerState, type McpServerStatus, type McpToolState, type McpToolStatus,
} from './mcp-gateway.js';
export { definitionDigest, labelledDescription, type McpCallResult, type McpToolDefinition } from './mcp-tool.js';
