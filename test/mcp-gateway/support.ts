// Helpers of the MCP gateway tests: a recording audit log, a silent logger, server configs with
// defaults, a tool context, and polling.
import type { AuditEntry } from '../../src/core/audit/entry.js';
import type { AuditLog } from '../../src/core/ports.js';
import type { ToolContext } from '../../src/core/tools/tool.js';
import { ExternalMcpServerConfigSchema, type ExternalMcpServerConfig, type McpGatewayLogger } from '../../src/connectors/mcp/index.js';

/** An audit log that keeps what it is given. */
export class RecordingAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];
  append(entries: readonly AuditEntry[]): Promise<number[]> {
    const start = this.entries.length;
    this.entries.push(...entries);
    return Promise.resolve(entries.map((_, i) => start + i));
  }
  kinds(): string[] {
    return this.entries.map((e) => e.kind);
  }
}

export const silentLogger: McpGatewayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A server config with every default filled in. */
export function serverConfig(input: Record<string, unknown>): ExternalMcpServerConfig {
  return ExternalMcpServerConfigSchema.parse(input);
}

/** A tool context as the engine passes it, with its own abort signal. */
export function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { idempotencyKey: 'm:s', missionId: '00000000-0000-4000-8000-000000000000', stepId: 's', attempt: 1, signal };
}

/** Polls `check` every 50 ms until it returns true, failing after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export { rejection } from '../support/errors.js';
