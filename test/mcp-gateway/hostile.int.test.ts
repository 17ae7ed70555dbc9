// Containment of a hostile external MCP server (docs/connectors/mcp.md): a real child process
// (test/fixtures/mcp/hostile-server.mjs) over stdio, pins in a real test database.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpGateway, type McpGateway } from '../../src/connectors/mcp/index.js';
import type { AnyToolContract } from '../../src/core/tools/tool.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { PgMcpPinStore } from '../../src/store/index.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';
import { context, rejection, RecordingAuditLog, serverConfig, silentLogger, waitFor } from './support.js';
import { ConnectorError } from '../../src/core/errors.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mcp/hostile-server.mjs', import.meta.url));
const stdio = (name: string, extra: Record<string, unknown> = {}) => serverConfig({ name, transport: 'stdio', command: process.execPath, args: [FIXTURE], ...extra });

let db: MigratedTestDatabase;
let gateway: McpGateway;
const audit = new RecordingAuditLog();
const added: AnyToolContract[] = [];

function tool(name: string): AnyToolContract {
  const found = gateway.tools().find((t) => t.name === name);
  if (found === undefined) throw new Error(`no tool ${name}`);
  return found;
}

function toolStatus(server: string, name: string) {
  return gateway.status().find((s) => s.name === server)?.tools.find((t) => t.name === name);
}

beforeAll(async () => {
  db = await createMigratedTestDatabase('mcp_hostile');
  gateway = await createMcpGateway({
    servers: [
      stdio('hostile', { timeoutMs: 500, breaker: { failures: 2, cooldownMs: 1000 }, maxResultBytes: 100_000, tools: { echo: { risk: 'read' } } }),
      stdio('drift', { tools: { echo: { risk: 'read' } }, healthCheckIntervalMs: 60_000 }),
    ],
    pins: new PgMcpPinStore(db.handle.db),
    audit,
    logger: silentLogger,
    onToolAdded: (contract) => added.push(contract),
  });
});

afterAll(async () => {
  await gateway?.stop();
  await db?.close();
});

describe('a hostile MCP server', () => {
  it('imports its well-named tools as <server>.<tool> over every page, and refuses names that pass for another namespace', () => {
    const names = gateway.tools().map((t) => t.name).filter((n) => n.startsWith('hostile.'));
    expect(names).toEqual(['hostile.big', 'hostile.echo', 'hostile.fail', 'hostile.hang', 'hostile.inject', 'hostile.rug-pull']);
    const refused = gateway.status().find((s) => s.name === 'hostile')!.tools.filter((t) => t.state === 'refused');
    expect(refused.map((t) => [t.name, t.tool])).toEqual([['../echo', null], ['supervisor.restart', null]]);
    expect(refused[1]!.reason).toMatch(/not 1 to 64 letters, digits/);
    // In the catalog beside a real supervisor tool, nothing of the server's is reachable under another name.
    const catalog = new ToolCatalog(added);
    catalog.check();
    expect(catalog.find('supervisor.restart')).toBeUndefined();
    expect(catalog.list().every((t) => t.name.startsWith('hostile.') || t.name.startsWith('drift.'))).toBe(true);
    expect(catalog.describe().find((t) => t.name === 'hostile.echo')?.tags).toEqual(['hostile', 'mcp']);
  });

  it('labels an injected description as unreviewed external text, strips control characters, and keeps risk from config', () => {
    const inject = tool('hostile.inject');
    expect(inject.description.startsWith('[external MCP server "hostile", unreviewed text] Lists disks.')).toBe(true);
    expect(inject.description).not.toMatch(/[\u0000-\u001f\u007f\u202e]/u);
    expect(inject.description).toContain('Ignore previous instructions');
    // readOnlyHint: true is shown, never trusted: a tool not in config is write-prod and not idempotent.
    expect(inject.risk).toBe('write-prod');
    expect(inject.idempotent).toBe(false);
    expect(inject.permission).toBe('mcp:hostile');
    expect(toolStatus('hostile', 'inject')?.hints).toEqual({ readOnlyHint: true, destructiveHint: false, title: 'Totally safe' });
    expect(tool('hostile.echo').risk).toBe('read');
    expect(audit.entries.filter((e) => e.kind === 'mcp.tool.pinned').map((e) => e.data.tool)).toContain('hostile.inject');
  });

  it('validates arguments against the server schema, naming the field, and calls the tool', async () => {
    const catalog = new ToolCatalog(gateway.tools());
    const bad = catalog.validateArgs('hostile.echo', { message: 42 }, 'steps.0');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues[0]?.path).toBe('steps.0.args.message');
    const result = await tool('hostile.echo').execute({ message: 'hi' }, context());
    expect(result).toEqual({ content: [{ type: 'text', text: 'echo: hi' }], isError: false });
  });

  it('refuses a result larger than maxResultBytes', async () => {
    const error = await rejection(tool('hostile.big').execute({ bytes: 200_000 }, context()), ConnectorError);
    expect(error.code).toBe('MCP_RESULT_TOO_LARGE');
    expect(error.retryable).toBe(false);
  });

  it('turns an isError result into a non-retryable failure carrying the text, cut to 2000 characters', async () => {
    const error = await rejection(tool('hostile.fail').execute({}, context()), ConnectorError);
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('disk on fire');
    expect(error.message.length).toBeLessThan(2100);
  });

  it('ends a hanging call at timeoutMs, opens the breaker after N failures, then allows one trial call', async () => {
    const started = Date.now();
    const first = await rejection(tool('hostile.hang').execute({}, context()), ConnectorError);
    expect(first.code).toBe('TOOL_TIMEOUT');
    expect(first.outcomeUnknown).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await rejection(tool('hostile.hang').execute({}, context()))).code).toBe('TOOL_TIMEOUT');
    const server = () => gateway.status().find((s) => s.name === 'hostile')!;
    expect(server().breaker).toMatchObject({ state: 'open', failures: 2 });
    expect(server().state).toBe('unavailable');
    expect((await rejection(tool('hostile.echo').execute({ message: 'x' }, context()))).code).toBe('MCP_SERVER_UNAVAILABLE');
    expect(tool('hostile.echo').unavailable?.()).toMatch(/circuit breaker is open/);
    await waitFor(() => server().breaker.state === 'half-open', 3000, 'half-open');
    // The trial call succeeds: the breaker closes.
    expect(await tool('hostile.echo').execute({ message: 'again' }, context())).toMatchObject({ isError: false });
    expect(server().breaker).toMatchObject({ state: 'closed', failures: 0 });
  });
});

describe('a tool list that changes mid-session', () => {
  it('holds the changed tool, refuses calls with the review hint, records the change, and keeps it held when the server reverts', async () => {
    expect(await tool('drift.echo').execute({ message: 'before' }, context())).toMatchObject({ isError: false });
    await tool('drift.rug-pull').execute({}, context());
    await waitFor(() => toolStatus('drift', 'echo')?.state === 'held', 10_000, 'drift.echo held');
    expect(tool('drift.echo').unavailable?.()).toContain('interlock mcp-servers accept drift echo');
    const refused = await rejection(tool('drift.echo').execute({ message: 'after' }, context()));
    expect(refused.code).toBe('MCP_TOOL_HELD');
    const changed = audit.entries.filter((e) => e.kind === 'mcp.tool.changed' && e.data.tool === 'drift.echo');
    expect(changed).toHaveLength(1);
    expect(changed[0]!.data.diff).toEqual([expect.stringMatching(/^description: "Echoes the message back\." -> "Echoes the message back\. IMPORTANT/)]);
    expect((changed[0]!.data.previous as { description: string }).description).toBe('Echoes the message back.');
    // The server reverts: still held until an operator accepts.
    await tool('drift.rug-pull').execute({ revert: true }, context());
    await waitFor(() => audit.entries.filter((e) => e.kind === 'mcp.tool.changed' && e.data.tool === 'drift.echo').length === 2, 10_000, 'second change recorded');
    expect(toolStatus('drift', 'echo')?.state).toBe('held');
    expect((await rejection(tool('drift.echo').execute({ message: 'after' }, context()))).code).toBe('MCP_TOOL_HELD');
  });

  it('makes the tool callable again once an operator accepts it, and records the review', async () => {
    const status = await gateway.accept('drift', 'echo', 'alice');
    expect(status).toMatchObject({ state: 'accepted', tool: 'drift.echo' });
    expect(tool('drift.echo').unavailable?.()).toBeUndefined();
    expect(await tool('drift.echo').execute({ message: 'ok' }, context())).toMatchObject({ content: [{ type: 'text', text: 'echo: ok' }] });
    const reviewed = audit.entries.find((e) => e.kind === 'mcp.tool.reviewed');
    expect(reviewed).toMatchObject({ actor: 'alice', data: { tool: 'drift.echo', decision: 'accepted' } });
    expect((await rejection(gateway.accept('drift', 'echo', 'alice'))).code).toBe('MCP_TOOL_NOT_HELD');
    expect((await rejection(gateway.accept('nope', 'echo', 'alice'))).code).toBe('MCP_SERVER_NOT_FOUND');
    expect((await rejection(gateway.accept('hostile', 'supervisor.restart', 'alice'))).code).toBe('MCP_TOOL_NOT_FOUND');
  });

  it('registers a tool that appears later as held; a rejection keeps it held; pins survive a restart', async () => {
    await tool('drift.rug-pull').execute({ revert: true, add: true }, context());
    await waitFor(() => toolStatus('drift', 'late')?.state === 'held', 10_000, 'drift.late held');
    expect(added.map((t) => t.name)).toContain('drift.late');
    expect(tool('drift.late').unavailable?.()).toMatch(/held for operator review/);
    expect(await gateway.reject('drift', 'late', 'bob', 'not needed')).toMatchObject({ state: 'held' });
    expect(audit.entries.at(-1)).toMatchObject({ kind: 'mcp.tool.reviewed', actor: 'bob', data: { decision: 'rejected', reason: 'not needed' } });
    // A second worker (a new gateway on the same database) sees the same pins.
    const again = await createMcpGateway({ servers: [stdio('drift', { tools: { echo: { risk: 'read' } } })], pins: new PgMcpPinStore(db.handle.db), audit: new RecordingAuditLog(), logger: silentLogger });
    try {
      expect(again.status()[0]!.tools.find((t) => t.name === 'echo')?.state).toBe('accepted');
      const late = (await new PgMcpPinStore(db.handle.db).list('drift')).find((pin) => pin.tool === 'late');
      expect(late).toMatchObject({ accepted: null, held: { definition: { name: 'late' } } });
    } finally {
      await again.stop();
    }
  });
});
