// The gateway against the reference MCP server `@modelcontextprotocol/server-everything`, over stdio
// and over Streamable HTTP (started on a free port of 127.0.0.1), pins in a real test database.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpGateway, type McpGateway } from '../../src/connectors/mcp/index.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { PgMcpPinStore } from '../../src/store/index.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';
import { context, RecordingAuditLog, serverConfig, silentLogger, waitFor } from './support.js';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist/index.js');
const LOOPBACK = fileURLToPath(new URL('../fixtures/mcp/loopback.mjs', import.meta.url));

let db: MigratedTestDatabase;
let gateway: McpGateway;
let http: ChildProcess | undefined;
const audit = new RecordingAuditLog();

beforeAll(async () => {
  db = await createMigratedTestDatabase('mcp_everything');
  const port = await getPort({ host: '127.0.0.1' });
  http = spawn(process.execPath, ['--import', LOOPBACK, EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  http.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor(() => stderr.includes('listening on port'), 15_000, 'the everything server listening');
  const tools = { echo: { risk: 'read' as const, tags: ['demo'] } };
  gateway = await createMcpGateway({
    servers: [
      serverConfig({ name: 'everything', transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'], tools, projects: ['shop'] }),
      serverConfig({ name: 'everything-http', transport: 'http', url: `http://127.0.0.1:${port}/mcp`, tools }),
    ],
    pins: new PgMcpPinStore(db.handle.db),
    audit,
    logger: silentLogger,
  });
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  http?.kill('SIGTERM');
  await db?.close();
});

describe.each(['everything', 'everything-http'])('server-everything over %s', (server) => {
  it('connects, imports every tool over all pages and pins each on first use', () => {
    const status = gateway.status().find((s) => s.name === server)!;
    expect(status.state).toBe('connected');
    const names = status.tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum', 'get-env', 'toggle-simulated-logging']));
    expect(status.tools.every((t) => t.state === 'accepted')).toBe(true);
    const pinned = audit.entries.filter((e) => e.kind === 'mcp.tool.pinned' && e.data.server === server);
    expect(pinned).toHaveLength(names.length);
  });

  it('takes risk classes from config only: echo is read, the others write-prod whatever their hints say', () => {
    const catalog = new ToolCatalog(gateway.tools());
    const echo = catalog.get(`${server}.echo`);
    expect(echo).toMatchObject({ risk: 'read', idempotent: true, permission: `mcp:${server}`, timeoutMs: 30_000 });
    expect(echo.tags).toEqual(['mcp', server, 'demo']);
    // get-sum says readOnlyHint: true; nobody configured it, so it is write-prod.
    expect(catalog.get(`${server}.get-sum`).risk).toBe('write-prod');
    expect(gateway.status().find((s) => s.name === server)!.tools.find((t) => t.name === 'get-sum')?.hints).toMatchObject({ readOnlyHint: true });
    const described = catalog.describe().find((t) => t.name === `${server}.echo`)!;
    expect(described.description).toMatch(/^\[external MCP server "everything(-http)?", unreviewed text\] /);
    expect(described.inputSchema).toMatchObject({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] });
  });

  it('calls echo', async () => {
    const echo = gateway.tools().find((t) => t.name === `${server}.echo`)!;
    expect(await echo.execute({ message: 'hello' }, context())).toEqual({ content: [{ type: 'text', text: 'Echo: hello' }], isError: false });
  });
});

it('offers the stdio server\'s tools to its configured projects only', () => {
  const catalog = new ToolCatalog(gateway.tools());
  expect(catalog.unavailableIn('everything.echo', 'shop')).toBeUndefined();
  expect(catalog.unavailableIn('everything.echo', 'default')).toMatch(/offered to project\(s\) shop only/);
  expect(catalog.unavailableIn('everything-http.echo', 'default')).toBeUndefined();
});
