// Both directions at once, through a real Interlock: an MCP client of /mcp sees the tools of an
// external MCP server (@modelcontextprotocol/server-everything over stdio) in the one governed catalog,
// a tool the operator marked read runs as the caller's mission, an unmarked one (write-prod by
// default) waits for a second identity, and operators see the server through /v1/mcp/servers.
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TOOL_META_KEY } from '../../src/server/mcp/mcp-server.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist/index.js');
const HOSTILE = fileURLToPath(new URL('../fixtures/mcp/hostile-server.mjs', import.meta.url));

let it_: TestInterlock;
let dir: string;
let client: Client;
let agentToken: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-gateway-'));
  await writeFile(join(dir, 'interlock.yaml'), [
    'mcp:',
    '  servers:',
    '    - name: everything',
    '      transport: stdio',
    `      command: ${JSON.stringify(process.execPath)}`,
    `      args: [${JSON.stringify(EVERYTHING)}, stdio]`,
    '      tools:',
    '        echo: { risk: read }',
    '    - name: hostile',
    '      transport: stdio',
    `      command: ${JSON.stringify(process.execPath)}`,
    `      args: [${JSON.stringify(HOSTILE)}]`,
    '      tools:',
    '        echo: { risk: read }',
    "        rug-pull: { risk: read }",
    '',
  ].join('\n'));
  it_ = await startTestInterlock('mcp_gateway_e2e', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
  agentToken = (await createPrincipalWithToken(it_.running, { name: 'outside-agent', kind: 'agent', roles: { default: ['operator'] } })).token;
  client = new Client({ name: 'outside-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${it_.running.url}/mcp?tag=mcp`), { requestInit: { headers: { authorization: `Bearer ${agentToken}` } } }));
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await it_?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('offers the external server\'s tools in the governed catalog, with the operator\'s risk classes', async () => {
  const { tools } = await client.listTools();
  const echo = tools.find((t) => t.name === 'everything.echo');
  expect(echo?._meta?.[TOOL_META_KEY]).toMatchObject({ risk: 'read', tags: ['everything', 'mcp'] });
  expect(echo?.description).toMatch(/^\[external MCP server "everything", unreviewed text\]/);
  expect(tools.find((t) => t.name === 'everything.get-sum')?._meta?.[TOOL_META_KEY]).toMatchObject({ risk: 'write-prod' });
});

it('runs a read tool of the external server as the caller\'s mission', async () => {
  const result = await client.callTool({ name: 'everything.echo', arguments: { message: 'through the gate' } }) as CallToolResult;
  expect(result.isError).toBeFalsy();
  expect(JSON.stringify(result.structuredContent)).toContain('through the gate');
  const missionId = (result._meta as any)[TOOL_META_KEY].missionId as string;
  const mission = await it_.running.engine.get(missionId);
  expect(mission).toMatchObject({ requester: 'outside-agent', outcome: 'resolved' });
  expect(mission.steps[0]).toMatchObject({ tool: 'everything.echo', status: 'succeeded' });
});

it('holds an unmarked tool (write-prod by default) for approval by a second identity', async () => {
  const result = await client.callTool({ name: 'everything.get-sum', arguments: { a: 2, b: 3 } }) as CallToolResult;
  expect(result.structuredContent).toMatchObject({ status: 'pending_approval' });
  const approvalId = (result.structuredContent as any).approval.approvalId as string;
  const { token: amy } = await createPrincipalWithToken(it_.running, { name: 'amy', kind: 'human', roles: { default: ['approver'] } });
  const shown = await it_.get(`/v1/approvals/${approvalId}`, amy);
  expect((await it_.post(`/v1/approvals/${approvalId}/approve`, { actionHash: shown.json.approval.actionHash }, amy)).status).toBe(200);
  const mission = await it_.waitFor((result.structuredContent as any).missionId);
  expect(mission.outcome).toBe('resolved');
  expect(JSON.stringify(mission.steps[0]!.result)).toContain('5');
});

it('shows operators the server, its tools and their states; only admins', async () => {
  const { status, json } = await it_.get('/v1/mcp/servers');
  expect(status).toBe(200);
  const server = json.servers.find((s: { name: string }) => s.name === 'everything');
  expect(server.state).toBe('connected');
  expect(server.tools.find((t: { name: string }) => t.name === 'echo')).toMatchObject({ state: 'accepted', risk: 'read' });
  expect((await it_.get('/v1/mcp/servers', agentToken)).status).toBe(403);
});

it('a tool list that changes mid-session: the changed tool is held, clients are told, an operator accepts it', async () => {
  const hostile = new Client({ name: 'watching-client', version: '1.0.0' });
  let changes = 0;
  hostile.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes += 1; });
  await hostile.connect(new StreamableHTTPClientTransport(new URL(`${it_.running.url}/mcp?tag=hostile`), { requestInit: { headers: { authorization: `Bearer ${agentToken}` } } }));
  try {
    const names = async (): Promise<string[]> => (await hostile.listTools()).tools.map((t) => t.name).filter((n) => !n.startsWith('interlock.'));
    const before = await names();
    expect(before).toContain('hostile.echo');
    // Names passing for another namespace are never imported.
    expect(before.filter((n) => n.includes('supervisor') || n.includes('..'))).toEqual([]);
    const pulled = await hostile.callTool({ name: 'hostile.rug-pull', arguments: {} }) as CallToolResult;
    expect(pulled.isError).toBeFalsy();
    for (const deadline = Date.now() + 10_000; changes === 0 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes).toBeGreaterThan(0);
    expect(await names()).not.toContain('hostile.echo');
    const refused = await it_.post('/v1/missions', { title: 'use the changed tool', steps: [{ tool: 'hostile.echo', args: { message: 'x' } }] });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('TOOL_UNAVAILABLE');
    const accepted = await it_.post('/v1/mcp/servers/hostile/tools/echo/accept', {});
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(200);
    const seen = changes;
    for (const deadline = Date.now() + 10_000; changes === seen && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes).toBeGreaterThan(seen);
    const echo = (await hostile.listTools()).tools.find((t) => t.name === 'hostile.echo');
    expect(echo?.description).toMatch(/^\[external MCP server "hostile", unreviewed text\] Echoes the message back\. IMPORTANT/);
    const audit = await it_.running.audit.query({ kinds: ['mcp.tool.changed', 'mcp.tool.reviewed'] });
    expect(audit.entries.map((e) => [e.entry.kind, e.entry.actor])).toEqual([['mcp.tool.changed', 'interlock-mcp-gateway'], ['mcp.tool.reviewed', 'test-admin']]);
  } finally {
    await hostile.close();
  }
});
