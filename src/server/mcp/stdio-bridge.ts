/**
 * `interlock mcp`: Interlock's MCP server over stdio, for clients that launch their servers as
 * processes (Claude Desktop, Claude Code, Cursor). The process holds no governance of its own: it
 * relays JSON-RPC messages between stdio (MCP basic/transports#stdio) and a running Interlock's `/mcp`
 * endpoint (Streamable HTTP) under the caller's API token, so every call passes the server's gates,
 * policy, approvals and audit exactly as over HTTP.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { InitializeResultSchema, isJSONRPCResultResponse, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Where the bridge relays to, and as whom. */
export interface StdioBridgeOptions {
  /** Base URL of the Interlock API, e.g. `http://127.0.0.1:7411`. */
  readonly baseUrl: string;
  /** API token (`il_...`) or JWT the bridge presents as `Authorization: Bearer`. */
  readonly token: string;
  /** Project whose governed tools the session serves. @default 'default' */
  readonly project?: string;
  /** Only tools carrying every one of these tags. */
  readonly tags?: readonly string[];
  /** Only tools of these risk classes. */
  readonly risks?: readonly string[];
  /** Where diagnostics go (never stdout, which carries the protocol). */
  readonly log: (line: string) => void;
  /** The stdio side; by default the process's stdin and stdout. */
  readonly stdio?: Transport;
}

/** The `/mcp` URL of the session `options` asks for. */
export function bridgeUrl(options: Pick<StdioBridgeOptions, 'baseUrl' | 'project' | 'tags' | 'risks'>): URL {
  const url = new URL('/mcp', options.baseUrl);
  url.searchParams.set('project', options.project ?? 'default');
  if (options.tags !== undefined && options.tags.length > 0) url.searchParams.set('tag', options.tags.join(','));
  if (options.risks !== undefined && options.risks.length > 0) url.searchParams.set('risk', options.risks.join(','));
  return url;
}

/**
 * Relays until either side closes; resolves then. A message the server cannot take (Interlock down,
 * token refused) is answered to the client as a JSON-RPC error for its request, and logged.
 */
export async function runStdioBridge(options: StdioBridgeOptions): Promise<void> {
  const stdio = options.stdio ?? new StdioServerTransport();
  const http = new StreamableHTTPClientTransport(bridgeUrl(options), { requestInit: { headers: { authorization: `Bearer ${options.token}` } } });
  let initializeId: string | number | undefined;
  const closed = new Promise<void>((resolve) => {
    stdio.onclose = () => resolve();
    http.onclose = () => resolve();
  });

  stdio.onmessage = (message: JSONRPCMessage) => {
    if ('method' in message && message.method === 'initialize' && 'id' in message) initializeId = message.id;
    http.send(message).catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      options.log(`interlock mcp: ${text}`);
      if ('id' in message && 'method' in message) {
        void stdio.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: `Interlock at ${options.baseUrl} did not take the request: ${text}` } }).catch(() => undefined);
      }
    });
  };
  http.onmessage = (message: JSONRPCMessage) => {
    // The protocol version the server chose goes on every later HTTP request (MCP-Protocol-Version).
    if (initializeId !== undefined && isJSONRPCResultResponse(message) && message.id === initializeId) {
      const parsed = InitializeResultSchema.safeParse(message.result);
      if (parsed.success) http.setProtocolVersion(parsed.data.protocolVersion);
    }
    void stdio.send(message).catch((error: unknown) => options.log(`interlock mcp: could not write to stdout: ${String(error)}`));
  };
  stdio.onerror = (error) => options.log(`interlock mcp: stdio: ${error.message}`);
  http.onerror = (error) => options.log(`interlock mcp: ${error.message}`);

  await http.start();
  await stdio.start();
  await closed;
  await http.terminateSession().catch(() => undefined);
  await http.close().catch(() => undefined);
  await stdio.close().catch(() => undefined);
}
