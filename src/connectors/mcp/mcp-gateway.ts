import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AUDIT_ENTRY_SCHEMA_VERSION, type AuditEntry } from '../../core/audit/entry.js';
import { ConnectorError, InputError } from '../../core/errors.js';
import type { AuditLog } from '../../core/ports.js';
import type { AnyToolContract, RiskClass, ToolContext } from '../../core/tools/tool.js';
import type { ExternalMcpServerConfig } from './mcp-config.js';
import {
  argumentsSchema, definitionDiff, definitionDigest, definitionOf, labelledDescription, McpCallResultSchema, refusedName,
  type McpCallResult, type McpToolDefinition,
} from './mcp-tool.js';

/** The audit actor of what the gateway records by itself (pins, changes). */
const GATEWAY_ACTOR = 'interlock-mcp-gateway';
/** Who accepted a tool pinned when its server was first seen. */
const TRUST_ON_FIRST_USE = 'trust-on-first-use';
/** Most pages of `tools/list` read in one listing; a server that paginates forever is cut off. */
const MAX_LIST_PAGES = 100;
/** Most tools read from one server. */
const MAX_TOOLS = 1000;
/** Longest error text kept from an `isError` result, characters. */
const MAX_ERROR_TEXT = 2000;
/** Longest wait for the first connection attempts in {@link createMcpGateway}, ms. */
const START_WAIT_MS = 15_000;

/** Least time allowed to start a session with a server and list its tools, ms. */
const MIN_SETUP_TIMEOUT_MS = 10_000;

/** The pins as the gateway reads and writes them (`PgMcpPinStore` in `src/store`). */
export interface McpPinStore {
  list(server: string): Promise<readonly McpPinRecord[]>;
  accept(server: string, tool: string, pin: { digest: string; definition: unknown; at: number; by: string }): Promise<void>;
  hold(server: string, tool: string, pin: { digest: string; definition: unknown; at: number }): Promise<void>;
}

/** One stored pin: the accepted definition and the one held for review, if any. */
export interface McpPinRecord {
  readonly tool: string;
  readonly accepted: { readonly digest: string; readonly definition: unknown; readonly by: string } | null;
  readonly held: { readonly digest: string; readonly definition: unknown } | null;
}

/** The minimal logger the gateway writes to (pino's `Logger` fits). */
export interface McpGatewayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of {@link createMcpGateway}. */
export interface McpGatewayOptions {
  /** The configured servers (`mcp.servers`); disabled ones are left out. */
  readonly servers: readonly ExternalMcpServerConfig[];
  readonly pins: McpPinStore;
  readonly audit: AuditLog;
  readonly logger: McpGatewayLogger;
  /** Where `envFrom` and `bearerTokenEnv` are read. @default {} (no secrets) */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called with each tool contract when it is first created (at start, or later when a server offers a new tool). */
  readonly onToolAdded?: (tool: AnyToolContract) => void;
  /**
   * Called after the set of callable tools changed: a tool added, held, accepted or removed (so
   * clients can be told, e.g. MCP `notifications/tools/list_changed`).
   */
  readonly onToolsChanged?: () => void;
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Client name and version sent in `initialize`. @default interlock 0.0.0 */
  readonly clientInfo?: { readonly name: string; readonly version: string };
}

/** Connection state of an external MCP server. */
export type McpServerState = 'connecting' | 'connected' | 'degraded' | 'unavailable';
/** Review state of one of its tools. */
export type McpToolState = 'accepted' | 'held' | 'refused' | 'removed';

/** One tool of an external MCP server as `status()` reports it. */
export interface McpToolStatus {
  /** The tool's name on its server. */
  readonly name: string;
  /** Its catalog name, `<server>.<name>`; null for a refused tool (never imported). */
  readonly tool: string | null;
  readonly state: McpToolState;
  /** Why it is held, refused or removed; null when accepted. */
  readonly reason: string | null;
  readonly risk: RiskClass;
  /** The server's annotations (readOnlyHint, destructiveHint…): shown, never trusted. */
  readonly hints: Record<string, unknown> | null;
  /** Digest of the definition the server offers now; null when removed or refused. */
  readonly digest: string | null;
  /** Digest of the accepted definition; null when none was ever accepted. */
  readonly acceptedDigest: string | null;
}

/** One external MCP server as `status()` reports it. */
export interface McpServerStatus {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  readonly state: McpServerState;
  readonly lastError: string | null;
  /** When the last error happened, ms since the epoch. */
  readonly lastErrorAt: number | null;
  readonly breaker: { readonly state: 'closed' | 'open' | 'half-open'; readonly failures: number; readonly openUntil: number | null };
  readonly tools: readonly McpToolStatus[];
}

/** The gateway to external MCP servers: their tools as governed contracts, their health and their review. */
export interface McpGateway {
  /** Every tool contract created so far (accepted, held or removed), sorted by name. */
  tools(): AnyToolContract[];
  /** Every configured, enabled server with its state, breaker and tools. */
  status(): McpServerStatus[];
  /**
   * Accepts the held definition of `server`'s `tool`: pins its digest, records `mcp.tool.reviewed`
   * by `reviewer`, and makes the tool callable (if the server still offers that definition).
   * @throws InputError `MCP_SERVER_NOT_FOUND`, `MCP_TOOL_NOT_FOUND`, `MCP_TOOL_NOT_HELD`.
   */
  accept(server: string, tool: string, reviewer: string): Promise<McpToolStatus>;
  /** Rejects the held definition: records `mcp.tool.reviewed` and keeps the tool held. Throws as {@link McpGateway.accept}. */
  reject(server: string, tool: string, reviewer: string, reason?: string): Promise<McpToolStatus>;
  /** Re-lists every connected server's tools now (as a health check does). */
  refresh(): Promise<void>;
  /** Stops health checks and closes every connection (stdio servers are terminated). */
  stop(): Promise<void>;
}

/** One tool of a server, as the gateway tracks it. */
interface ToolEntry {
  readonly name: string;
  readonly contract: AnyToolContract;
  definition: McpToolDefinition | null;
  digest: string | null;
  input: z.ZodType<Record<string, unknown>>;
  state: 'accepted' | 'held' | 'removed';
  acceptedDigest: string | null;
}

/**
 * Connects to the configured external MCP servers and returns the gateway. Waits for each server's
 * first connection attempt (at most 15 s); a server that cannot be reached is logged and retried with
 * backoff, and its tools appear (held if new or changed) once it connects.
 * @see https://modelcontextprotocol.io/specification/2025-06-18/server/tools
 */
export async function createMcpGateway(options: McpGatewayOptions): Promise<McpGateway> {
  const runtimes = new Map(options.servers.filter((server) => server.enabled).map((server) => [server.name, new ServerRuntime(server, options)]));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([...runtimes.values()].map((runtime) => runtime.start())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, START_WAIT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  const runtime = (server: string): ServerRuntime => {
    const found = runtimes.get(server);
    if (found === undefined) {
      throw new InputError('MCP_SERVER_NOT_FOUND', `No external MCP server is named "${server}"; list them with GET /v1/mcp/servers.`, [
        { path: 'server', message: 'unknown MCP server', expected: [...runtimes.keys()].join(', ') || 'a configured server (mcp.servers is empty)', received: JSON.stringify(server) },
      ]);
    }
    return found;
  };
  return {
    tools: () => [...runtimes.values()].flatMap((r) => r.contracts()).sort((a, b) => a.name.localeCompare(b.name)),
    status: () => [...runtimes.values()].map((r) => r.status()),
    accept: async (server, tool, reviewer) => runtime(server).review(tool, reviewer, 'accepted'),
    reject: async (server, tool, reviewer, reason) => runtime(server).review(tool, reviewer, 'rejected', reason),
    refresh: async () => {
      await Promise.all([...runtimes.values()].map((r) => r.refresh()));
    },
    stop: async () => {
      await Promise.all([...runtimes.values()].map((r) => r.stop()));
    },
  };
}

/** One server: its connection, health checks, breaker, tools and their pins. */
class ServerRuntime {
  readonly #config: ExternalMcpServerConfig;
  readonly #options: McpGatewayOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, ToolEntry>();
  readonly #refused = new Map<string, { reason: string; hints: Record<string, unknown> | null }>();
  #client: Client | undefined;
  #state: McpServerState = 'connecting';
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #stderrTail = '';
  #failures = 0;
  #openUntil: number | null = null;
  #trialInFlight = false;
  #pingFailures = 0;
  #reconnectAttempts = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(config: ExternalMcpServerConfig, options: McpGatewayOptions) {
    this.#config = config;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** First connection attempt, then health checks every `healthCheckIntervalMs`. */
  async start(): Promise<void> {
    this.#healthTimer = setInterval(() => void this.#healthCheck(), this.#config.healthCheckIntervalMs);
    this.#healthTimer.unref();
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#healthTimer);
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async refresh(): Promise<void> {
    if (this.#client !== undefined) await this.#sync('refresh').catch(() => undefined);
  }

  contracts(): AnyToolContract[] {
    return [...this.#entries.values()].map((entry) => entry.contract);
  }

  status(): McpServerStatus {
    const now = this.#now();
    const tools: McpToolStatus[] = [
      ...[...this.#entries.values()].map((entry) => ({
        name: entry.name,
        tool: entry.contract.name,
        state: entry.state,
        reason: this.#entryReason(entry) ?? null,
        risk: this.#risk(entry.name),
        hints: entry.definition?.annotations ?? null,
        digest: entry.state === 'removed' ? null : entry.digest,
        acceptedDigest: entry.acceptedDigest,
      })),
      ...[...this.#refused.entries()].map(([name, refused]) => ({
        name, tool: null, state: 'refused' as const, reason: refused.reason, risk: this.#risk(name), hints: refused.hints, digest: null, acceptedDigest: null,
      })),
    ].sort((a, b) => a.name.localeCompare(b.name));
    const open = this.#openUntil !== null;
    return {
      name: this.#config.name,
      transport: this.#config.transport,
      state: this.#client === undefined || !open ? this.#state : now < (this.#openUntil ?? 0) ? 'unavailable' : 'degraded',
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      breaker: { state: !open ? 'closed' : now < (this.#openUntil ?? 0) ? 'open' : 'half-open', failures: this.#failures, openUntil: this.#openUntil },
      tools,
    };
  }

  /** Accepts or rejects the held definition of `name`, serialized with the tool-list checks. */
  review(name: string, reviewer: string, decision: 'accepted' | 'rejected', reason?: string): Promise<McpToolStatus> {
    return this.#serialized(async () => {
      const server = this.#config.name;
      const pin = (await this.#options.pins.list(server)).find((p) => p.tool === name);
      if (pin === undefined) {
        const refused = this.#refused.get(name);
        throw new InputError('MCP_TOOL_NOT_FOUND', refused === undefined
          ? `The MCP server "${server}" has never offered a tool named "${name}"; list its tools with GET /v1/mcp/servers.`
          : `The MCP server "${server}"'s tool "${name}" was refused (${refused.reason}); it cannot be accepted.`, [
          { path: 'tool', message: 'unknown tool of this MCP server', received: JSON.stringify(name) },
        ]);
      }
      if (pin.held === null) {
        throw new InputError('MCP_TOOL_NOT_HELD', `The tool ${server}.${name} is not held for review (its definition is the accepted one); nothing to ${decision === 'accepted' ? 'accept' : 'reject'}.`);
      }
      const at = this.#now();
      await this.#options.audit.append([entry('mcp.tool.reviewed', reviewer, at, {
        server, tool: `${server}.${name}`, decision, digest: pin.held.digest, previousDigest: pin.accepted?.digest ?? null, ...(reason === undefined ? {} : { reason }),
      })]);
      if (decision === 'accepted') {
        await this.#options.pins.accept(server, name, { digest: pin.held.digest, definition: pin.held.definition, at, by: reviewer });
        this.#options.logger.info({ server, tool: name, reviewer, digest: pin.held.digest }, 'MCP tool accepted');
        const tool = this.#entries.get(name);
        if (tool !== undefined) {
          tool.acceptedDigest = pin.held.digest;
          if (tool.state === 'held') {
            // The server may have changed again since the hold: hold the newer definition in turn.
            if (tool.digest === pin.held.digest) tool.state = 'accepted';
            else if (tool.definition !== null) await this.#hold(tool.name, tool.definition, tool.digest ?? '', pin.held.definition as McpToolDefinition);
          }
          this.#options.onToolsChanged?.();
        }
      } else {
        this.#options.logger.warn({ server, tool: name, reviewer, digest: pin.held.digest, reason }, 'MCP tool rejected; it stays held');
      }
      const status = this.status().tools.find((t) => t.name === name);
      if (status !== undefined) return status;
      return { name, tool: `${server}.${name}`, state: decision === 'accepted' ? 'accepted' : 'held', reason: null, risk: this.#risk(name), hints: null, digest: null, acceptedDigest: decision === 'accepted' ? pin.held.digest : pin.accepted?.digest ?? null };
    });
  }

  #serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(run, run);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #risk(name: string): RiskClass {
    return this.#config.tools[name]?.risk ?? 'write-prod';
  }

  #fail(message: string): void {
    this.#lastError = message;
    this.#lastErrorAt = this.#now();
  }

  // ---- connection -------------------------------------------------------------------------------

  #connect(): Promise<void> {
    this.#connecting ??= this.#doConnect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #doConnect(): Promise<void> {
    if (this.#stopped) return;
    const { name } = this.#config;
    if (this.#client === undefined && this.#state !== 'unavailable') this.#state = 'connecting';
    let client: Client | undefined;
    try {
      const transport = this.#transport();
      client = new Client(
        { name: this.#options.clientInfo?.name ?? 'interlock', version: this.#options.clientInfo?.version ?? '0.0.0' },
        { capabilities: {} },
      );
      const own = client;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        if (this.#client === own) this.#sync('list_changed').catch(() => undefined);
      });
      client.onclose = () => {
        if (this.#client !== own || this.#stopped) return;
        this.#client = undefined;
        this.#state = 'unavailable';
        this.#fail(`the connection closed${this.#stderrTail === '' ? '' : `; stderr: ${this.#stderrTail}`}`);
        this.#options.logger.warn({ server: name, err: this.#lastError }, 'MCP server connection closed; reconnecting');
        this.#scheduleReconnect();
      };
      await client.connect(transport, { timeout: this.#setupTimeoutMs() });
      if (this.#stopped) {
        await client.close();
        return;
      }
      this.#client = client;
      this.#state = 'connected';
      this.#pingFailures = 0;
      this.#reconnectAttempts = 0;
      this.#options.logger.info({ server: name, transport: this.#config.transport }, 'MCP server connected');
      await this.#sync('connect');
    } catch (error) {
      if (this.#client === client) this.#client = undefined;
      await client?.close().catch(() => undefined);
      this.#state = 'unavailable';
      this.#fail(`${errorText(error)}${this.#stderrTail === '' ? '' : `; stderr: ${this.#stderrTail}`}`);
      this.#options.logger.warn({ server: name, err: this.#lastError }, 'MCP server could not be reached; its tools are unavailable, retrying');
      this.#scheduleReconnect();
    }
  }

  #transport(): Transport {
    const env = this.#options.env ?? {};
    const config = this.#config;
    if (config.transport === 'http') {
      let headers: Record<string, string> = {};
      if (config.bearerTokenEnv !== undefined) {
        const token = env[config.bearerTokenEnv];
        if (token === undefined || token === '') throw new Error(`the environment variable ${config.bearerTokenEnv} (bearerTokenEnv) is not set`);
        headers = { authorization: `Bearer ${token}` };
      }
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers } });
    }
    const fromEnv: Record<string, string> = {};
    for (const [variable, source] of Object.entries(config.envFrom)) {
      const value = env[source];
      if (value === undefined) throw new Error(`the environment variable ${source} (envFrom.${variable}) is not set`);
      fromEnv[variable] = value;
    }
    const transport = new StdioClientTransport({
      command: config.command, args: [...config.args], env: { ...config.env, ...fromEnv }, stderr: 'pipe', ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
    });
    this.#stderrTail = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-500).replace(/[\p{Cc}]+/gu, ' ');
    });
    return transport;
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#reconnectTimer !== undefined) return;
    const cap = Math.max(1000, this.#config.healthCheckIntervalMs);
    const delay = Math.min(cap, 250 * 2 ** Math.min(this.#reconnectAttempts, 16));
    this.#reconnectAttempts += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async #healthCheck(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#stopped) return;
    try {
      await client.ping({ timeout: Math.min(this.#config.timeoutMs, this.#config.healthCheckIntervalMs) });
      this.#pingFailures = 0;
      if (this.#state === 'degraded') this.#state = 'connected';
      await this.#sync('health check');
    } catch (error) {
      if (this.#client !== client) return;
      this.#pingFailures += 1;
      this.#fail(`health check failed: ${errorText(error)}`);
      this.#state = 'degraded';
      if (this.#pingFailures >= 2) {
        // Two failed pings in a row: drop the connection and reconnect (HTTP transports never "close").
        this.#client = undefined;
        this.#state = 'unavailable';
        await client.close().catch(() => undefined);
        this.#scheduleReconnect();
      }
    }
  }

  // ---- tool list and pins -------------------------------------------------------------------------

  /** Lists the server's tools and reconciles them with the pins; serialized with reviews. */
  #sync(reason: string): Promise<void> {
    return this.#serialized(async () => {
      const client = this.#client;
      if (client === undefined) return;
      try {
        const listed = await listAllTools(client, this.#setupTimeoutMs());
        await this.#reconcile(listed);
      } catch (error) {
        if (this.#client === client) {
          this.#state = 'degraded';
          this.#fail(`tools/list (${reason}) failed: ${errorText(error)}`);
          this.#options.logger.warn({ server: this.#config.name, err: this.#lastError }, 'MCP tool list could not be checked');
        }
        throw error;
      }
    });
  }

  /** The tools and their states, to tell whether a reconciliation changed what may be called. */
  #stateKey(): string {
    return [...this.#entries].map(([name, tool]) => `${name}=${tool.state}`).sort().join(',');
  }

  async #reconcile(listed: readonly Tool[]): Promise<void> {
    const before = this.#stateKey();
    await this.#reconcileTools(listed);
    if (this.#stateKey() !== before) this.#options.onToolsChanged?.();
  }

  async #reconcileTools(listed: readonly Tool[]): Promise<void> {
    const server = this.#config.name;
    const pins = new Map((await this.#options.pins.list(server)).map((pin) => [pin.tool, pin]));
    const firstContact = pins.size === 0 && this.#entries.size === 0;
    const seen = new Set<string>();
    for (const tool of listed) {
      const hints = isRecord(tool.annotations) ? { ...tool.annotations } : null;
      const nameProblem = refusedName(tool.name);
      const definition = definitionOf({
        name: tool.name, description: tool.description, inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema, annotations: hints ?? undefined,
      });
      const input = nameProblem === undefined ? argumentsSchema(definition.inputSchema) : undefined;
      const refusal = nameProblem ?? (input === undefined ? 'its input schema is not a JSON Schema object Interlock can read' : undefined);
      if (refusal !== undefined || input === undefined) {
        const reason = refusal ?? 'its input schema cannot be read';
        if (!this.#refused.has(tool.name)) this.#options.logger.warn({ server, tool: tool.name.slice(0, 100), reason }, 'MCP tool refused');
        this.#refused.set(tool.name, { reason, hints });
        continue;
      }
      if (seen.has(tool.name)) continue;
      seen.add(tool.name);
      const digest = definitionDigest(definition);
      const pin = pins.get(tool.name);
      // The stored pins decide (a review on another worker counts); nothing is recorded twice.
      let state: ToolEntry['state'];
      if (firstContact) {
        const at = this.#now();
        await this.#options.audit.append([entry('mcp.tool.pinned', GATEWAY_ACTOR, at, { server, tool: `${server}.${tool.name}`, digest, definition, acceptedBy: TRUST_ON_FIRST_USE })]);
        await this.#options.pins.accept(server, tool.name, { digest, definition, at, by: TRUST_ON_FIRST_USE });
        state = 'accepted';
      } else if (pin?.held != null) {
        // Held until reviewed, even when the server reverts to the accepted definition.
        if (pin.held.digest !== digest) await this.#hold(tool.name, definition, digest, pin.held.definition as McpToolDefinition);
        state = 'held';
      } else if (pin?.accepted != null && pin.accepted.digest === digest) {
        state = 'accepted';
      } else {
        await this.#hold(tool.name, definition, digest, (pin?.accepted?.definition ?? null) as McpToolDefinition | null);
        state = 'held';
      }
      this.#upsert(tool.name, definition, digest, input, state, state === 'accepted' ? digest : pin?.accepted?.digest ?? null);
    }
    for (const [name, tool] of this.#entries) {
      if (!seen.has(name) && tool.state !== 'removed') {
        tool.state = 'removed';
        this.#options.logger.warn({ server, tool: name }, 'MCP server no longer offers the tool; it is unavailable');
      }
    }
    for (const name of [...this.#refused.keys()]) {
      if (!listed.some((tool) => tool.name === name)) this.#refused.delete(name);
    }
  }

  /** Holds a changed or new definition: audit entry `mcp.tool.changed` first, then the stored pin. */
  async #hold(name: string, definition: McpToolDefinition, digest: string, previous: McpToolDefinition | null): Promise<void> {
    const server = this.#config.name;
    const at = this.#now();
    const diff = definitionDiff(previous, definition);
    await this.#options.audit.append([entry('mcp.tool.changed', GATEWAY_ACTOR, at, {
      server, tool: `${server}.${name}`, digest, previousDigest: previous === null ? null : definitionDigest(previous), diff, previous, definition,
    })]);
    await this.#options.pins.hold(server, name, { digest, definition, at });
    this.#options.logger.warn({ server, tool: name, diff }, 'MCP tool definition changed or is new; held for operator review');
  }

  #upsert(name: string, definition: McpToolDefinition, digest: string, input: z.ZodType<Record<string, unknown>>, state: ToolEntry['state'], acceptedDigest: string | null): void {
    const existing = this.#entries.get(name);
    if (existing !== undefined) {
      Object.assign(existing, { definition, digest, input, state, acceptedDigest });
      return;
    }
    const tool: ToolEntry = { name, definition, digest, input, state, acceptedDigest, contract: this.#contract(name) };
    this.#entries.set(name, tool);
    try {
      this.#options.onToolAdded?.(tool.contract);
    } catch (error) {
      this.#options.logger.error({ server: this.#config.name, tool: name, err: errorText(error) }, 'MCP tool could not be added to the catalog');
    }
  }

  #entryReason(tool: ToolEntry): string | undefined {
    const server = this.#config.name;
    if (tool.state === 'held') {
      return `${server}.${tool.name} is new or changed on the external MCP server "${server}" and is held for operator review: `
        + `inspect it with \`interlock mcp-servers list\` and accept it with \`interlock mcp-servers accept ${server} ${tool.name}\` (POST /v1/mcp/servers/${server}/tools/${tool.name}/accept).`;
    }
    if (tool.state === 'removed') return `the external MCP server "${server}" no longer offers ${tool.name}`;
    return undefined;
  }

  /** Why the server's tools cannot be called now (disconnected, breaker open), or undefined. */
  #serverReason(): string | undefined {
    const server = this.#config.name;
    if (this.#client === undefined) return `the external MCP server "${server}" is not connected${this.#lastError === null ? '' : ` (${this.#lastError})`}`;
    if (this.#openUntil !== null && this.#now() < this.#openUntil) {
      return `the external MCP server "${server}" failed ${this.#failures} call(s) in a row; its circuit breaker is open until ${new Date(this.#openUntil).toISOString()}`;
    }
    return undefined;
  }

  // ---- tool contracts -----------------------------------------------------------------------------

  #contract(name: string): AnyToolContract {
    const entryReason = (tool: ToolEntry): string | undefined => this.#entryReason(tool);
    const serverReason = (): string | undefined => this.#serverReason();
    const call = (tool: ToolEntry, risk: RiskClass, args: Record<string, unknown>, context: ToolContext): Promise<McpCallResult> => this.#call(tool, risk, args, context);
    const entries = this.#entries;
    const config = this.#config;
    const server = config.name;
    const risk = this.#risk(name);
    const get = (): ToolEntry => {
      const tool = entries.get(name);
      if (tool === undefined) throw new Error(`unknown MCP tool ${name}`);
      return tool;
    };
    // Arguments are checked against the server's current JSON Schema, naming each failing field.
    const input = z.record(z.string(), z.unknown()).superRefine((args, ctx) => {
      const parsed = get().input.safeParse(args);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, input: args });
      }
    });
    return {
      name: `${server}.${name}`,
      get description() {
        return labelledDescription(server, get().definition?.description ?? null);
      },
      input,
      output: McpCallResultSchema,
      risk,
      idempotent: risk === 'read',
      timeoutMs: config.timeoutMs,
      permission: `mcp:${server}`,
      tags: ['mcp', server, ...(config.tools[name]?.tags ?? [])],
      projects: config.projects,
      get inputJsonSchema() {
        return get().definition?.inputSchema;
      },
      get outputJsonSchema() {
        return get().definition?.outputSchema ?? undefined;
      },
      unavailable: () => entryReason(get()) ?? serverReason(),
      execute: (args: Record<string, unknown>, context: ToolContext) => call(get(), risk, args, context),
    };
  }

  async #call(tool: ToolEntry, risk: RiskClass, args: Record<string, unknown>, context: ToolContext): Promise<McpCallResult> {
    const server = this.#config.name;
    const system = `mcp:${server}`;
    const qualified = `${server}.${tool.name}`;
    if (tool.state === 'held') throw new ConnectorError('MCP_TOOL_HELD', this.#entryReason(tool) ?? '', { system, retryable: false });
    if (tool.state === 'removed') throw new ConnectorError('MCP_SERVER_UNAVAILABLE', `${this.#entryReason(tool) ?? ''}; it cannot be called.`, { system, retryable: false });
    const client = this.#client;
    if (client === undefined) throw new ConnectorError('MCP_SERVER_UNAVAILABLE', `${this.#serverReason() ?? ''}; ${qualified} cannot be called now.`, { system, retryable: false });
    let trial = false;
    if (this.#openUntil !== null) {
      if (this.#now() < this.#openUntil || this.#trialInFlight) {
        throw new ConnectorError('MCP_SERVER_UNAVAILABLE', `${this.#serverReason() ?? `a trial call to the external MCP server "${server}" is in progress`}; ${qualified} cannot be called now.`, { system, retryable: false });
      }
      trial = true; // half-open: this call decides whether the breaker closes
      this.#trialInFlight = true;
    }
    const outcomeUnknown = risk !== 'read';
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await client.callTool({ name: tool.name, arguments: args }, undefined, { signal: context.signal, timeout: this.#config.timeoutMs });
    } catch (error) {
      const timedOut = context.signal.aborted || (error instanceof McpError && error.code === Number(ErrorCode.RequestTimeout));
      const transport = timedOut || !(error instanceof McpError) || error.code === Number(ErrorCode.ConnectionClosed);
      if (transport) this.#failed(trial, errorText(error));
      else if (trial) this.#succeeded();
      if (trial) this.#trialInFlight = false;
      if (timedOut) {
        throw new ConnectorError('TOOL_TIMEOUT', `${qualified} did not finish within ${this.#config.timeoutMs} ms; its outcome is unknown.`, { system, retryable: risk === 'read', outcomeUnknown, cause: error });
      }
      if (transport) {
        throw new ConnectorError('TOOL_FAILED', `The call of ${qualified} failed on the way to or from its MCP server: ${errorText(error)}.`, { system, retryable: risk === 'read', outcomeUnknown, cause: error });
      }
      throw new ConnectorError('TOOL_FAILED', `The MCP server "${server}" refused the call of ${tool.name}: ${errorText(error)}.`, { system, status: error.code, retryable: false, cause: error });
    }
    this.#succeeded();
    if (trial) this.#trialInFlight = false;
    const bytes = Buffer.byteLength(JSON.stringify(result), 'utf8');
    if (bytes > this.#config.maxResultBytes) {
      throw new ConnectorError('MCP_RESULT_TOO_LARGE', `${qualified} returned ${bytes} bytes, more than maxResultBytes (${this.#config.maxResultBytes}); the result was discarded. Narrow the call or raise mcp.servers[].maxResultBytes.`, {
        system, retryable: false, outcomeUnknown, details: { bytes, maxResultBytes: this.#config.maxResultBytes },
      });
    }
    const content = Array.isArray(result.content) ? (result.content as unknown[]) : [];
    if (result.isError === true) {
      const text = content.map((block) => (isRecord(block) && block.type === 'text' && typeof block.text === 'string' ? block.text : '')).filter((t) => t !== '').join('\n');
      const cut = text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 1)}…` : text;
      throw new ConnectorError('TOOL_FAILED', `${qualified} answered with an error: ${cut === '' ? '(no text)' : cut}`, { system, retryable: false, details: { text: cut } });
    }
    return { content, ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent }), isError: false };
  }

  /**
   * Time allowed to start and initialize a session, and to list the tools, ms: the call timeout, but
   * at least {@link MIN_SETUP_TIMEOUT_MS} (a stdio server must first start a process, which takes
   * seconds on a busy machine, while a tool call may well have to end in 500 ms).
   */
  #setupTimeoutMs(): number {
    return Math.max(this.#config.timeoutMs, MIN_SETUP_TIMEOUT_MS);
  }

  #succeeded(): void {
    this.#failures = 0;
    this.#openUntil = null;
  }

  #failed(trial: boolean, message: string): void {
    this.#failures += 1;
    this.#fail(message);
    if (trial || this.#failures >= this.#config.breaker.failures) {
      this.#openUntil = this.#now() + this.#config.breaker.cooldownMs;
      this.#options.logger.warn({ server: this.#config.name, failures: this.#failures, openUntil: this.#openUntil }, 'MCP server circuit breaker open');
    }
  }
}

/** Every tool of the server, following `nextCursor` (at most {@link MAX_LIST_PAGES} pages and {@link MAX_TOOLS} tools). */
async function listAllTools(client: Client, timeoutMs: number): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: timeoutMs });
    tools.push(...result.tools);
    if (tools.length > MAX_TOOLS) throw new Error(`the server lists more than ${MAX_TOOLS} tools`);
    cursor = result.nextCursor;
    if (cursor === undefined) return tools;
  }
  throw new Error(`the server's tool list has more than ${MAX_LIST_PAGES} pages`);
}

function entry(kind: AuditEntry['kind'], actor: string, at: number, data: Record<string, unknown>): AuditEntry {
  return { schemaVersion: AUDIT_ENTRY_SCHEMA_VERSION, kind, actor, missionId: null, at, data };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
