// Interlock as an MCP server, through the MCP SDK's own client over Streamable HTTP against a real
// Interlock (in-process, on the machine's PostgreSQL): the governed catalog, a read call that runs, a
// write-prod call that comes back pending and runs only after a second identity approves, the
// elicitation notice that never counts as an approval, resources, prompts, and the HTTP guards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_META_KEY } from '../../src/server/mcp/mcp-server.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;
const tokens: Record<string, string> = {};
const clients: Client[] = [];

let dir: string;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const ISSUER = 'https://idp.example.test';

beforeAll(async () => {
  // A JWT issuer configured with its public key: JWTs name the same principals as API tokens.
  dir = await mkdtemp(join(tmpdir(), 'interlock-mcp-'));
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  await writeFile(join(dir, 'idp.pem'), await exportSPKI(pair.publicKey));
  await writeFile(join(dir, 'interlock.yaml'), `auth:\n  jwt:\n    issuer: ${ISSUER}\n    audience: interlock-mcp-test\n    publicKeyFile: ${join(dir, 'idp.pem')}\n    algorithms: [ES256]\n`);
  it_ = await startTestInterlock('mcp_server', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
  const principals: Array<Parameters<typeof createPrincipalWithToken>[1]> = [
    { name: 'claude-agent', kind: 'agent', roles: { default: ['operator'] } },
    { name: 'amy', kind: 'human', roles: { default: ['approver'] } },
    { name: 'vic', kind: 'human', roles: { other: ['operator'] } },
  ];
  for (const principal of principals) tokens[principal.name] = (await createPrincipalWithToken(it_.running, principal)).token;
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await it_?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** An SDK client connected to /mcp as `who` (or with `token`), with `query` on the URL and optional elicitation support. */
async function connect(who: string, query = '', options: { onElicit?: (message: string) => { action: 'accept' | 'decline' }; token?: string } = {}): Promise<Client> {
  const client = new Client({ name: `test-${who}`, version: '1.0.0' }, { capabilities: options.onElicit === undefined ? {} : { elicitation: { form: {} } } });
  if (options.onElicit !== undefined) {
    const onElicit = options.onElicit;
    client.setRequestHandler(ElicitRequestSchema, (request) => ({ ...onElicit(request.params.message), content: { acknowledged: true } }));
  }
  const transport = new StreamableHTTPClientTransport(new URL(`${it_.running.url}/mcp${query}`), { requestInit: { headers: { authorization: `Bearer ${options.token ?? tokens[who] ?? it_.adminToken}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

function structured(result: unknown): Record<string, any> {
  return (result as CallToolResult).structuredContent as Record<string, any>;
}

describe('MCP server: the governed catalog', () => {
  it('lists the catalog tools with their contract facts, and the mission tools', async () => {
    const client = await connect('claude-agent');
    expect(client.getServerVersion()?.name).toBe('interlock');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ledger.balance', 'ledger.append-prod', 'builtin.noop', 'interlock.missions.status', 'interlock.missions.propose', 'interlock.approvals.request', 'interlock.incidents.list', 'interlock.missions.show']));
    const prod = tools.find((t) => t.name === 'ledger.append-prod')!;
    expect(prod.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(prod._meta?.[TOOL_META_KEY]).toMatchObject({ risk: 'write-prod', tags: ['ledger'] });
    expect(prod.inputSchema).toMatchObject({ type: 'object', properties: { amount: { type: 'integer' } } });
    const read = tools.find((t) => t.name === 'ledger.balance')!;
    expect(read.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
  });

  it('filters the catalog by risk class and tag from the URL, and refuses a bad filter', async () => {
    const client = await connect('claude-agent', '?risk=read&tag=ledger');
    const names = (await client.listTools()).tools.map((t) => t.name).filter((n) => !n.startsWith('interlock.'));
    expect(names).toEqual(['ledger.balance']);
    await expect(client.callTool({ name: 'ledger.append-prod', arguments: { amount: 1 } })).rejects.toThrow(/Unknown tool "ledger.append-prod"/);
    const bad = await fetch(`${it_.running.url}/mcp?risk=dangerous`, { method: 'POST', headers: { authorization: `Bearer ${tokens['claude-agent']}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.details.issues[0].path).toBe('query.risk');
  });

  it('runs a read call as a one-step mission of the caller, on the audit record', async () => {
    const client = await connect('claude-agent');
    const result = await client.callTool({ name: 'ledger.balance', arguments: { atLeast: 0 } });
    expect(result.isError).toBeFalsy();
    expect(structured(result)).toMatchObject({ ok: true, balance: 0 });
    const missionId = (result._meta as any)[TOOL_META_KEY].missionId as string;
    const mission = await it_.running.engine.get(missionId);
    expect(mission).toMatchObject({ requester: 'claude-agent', outcome: 'resolved', labels: { via: 'mcp', 'mcp-client': 'test-claude-agent' } });
    expect(mission.request.agent).toBe('claude-agent');
    const audit = await it_.running.audit.query({ missionId });
    expect(audit.entries.map((e) => e.entry.kind)).toEqual(expect.arrayContaining(['plan.proposed', 'policy.decided', 'tool.called', 'tool.result']));
  });

  it('answers bad arguments as a tool error naming the field, and runs nothing', async () => {
    const client = await connect('claude-agent');
    const result = await client.callTool({ name: 'ledger.append-prod', arguments: { amount: 'ten', invented: true } });
    expect(result.isError).toBe(true);
    expect(structured(result)).toMatchObject({ status: 'failed', code: 'TOOL_ARGS_INVALID', missionId: null });
    expect(JSON.stringify(structured(result).details)).toContain('steps.0.args.amount');
  });

  it('holds a write-prod call for approval; the elicitation answer approves nothing; a second identity does', async () => {
    const notices: string[] = [];
    const client = await connect('claude-agent', '', { onElicit: (message) => { notices.push(message); return { action: 'accept' }; } });
    const pending = await client.callTool({ name: 'ledger.append-prod', arguments: { amount: 42 } });
    expect(pending.isError).toBeFalsy();
    const body = structured(pending);
    expect(body).toMatchObject({ status: 'pending_approval', approval: { approvalId: expect.any(String), cli: expect.stringMatching(/^interlock approvals approve /) } });
    expect(body.approval.url).toBe(`${it_.running.url}/v1/approvals/${body.approval.approvalId}`);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('answering here approves nothing');
    // The client's "accept" counted for nothing: the mission still waits, and nothing ran.
    const missionId = body.missionId as string;
    expect((await it_.running.engine.get(missionId)).waitingFor).toBe('approval');
    expect((await it_.ledger.query('select count(*)::int as n from ledger where mission_id = $1', [missionId])).rows[0].n).toBe(0);
    const elicited = await it_.running.audit.query({ missionId, kinds: ['mcp.elicitation'] });
    expect(elicited.entries[0]?.entry.data).toMatchObject({ action: 'accept', countsAsApproval: false, approvalId: body.approval.approvalId });
    // The requesting agent cannot approve its own call.
    const approval = await it_.get(`/v1/approvals/${body.approval.approvalId}`);
    const self = await it_.post(`/v1/approvals/${body.approval.approvalId}/approve`, { actionHash: approval.json.approval.actionHash }, tokens['claude-agent']);
    expect(self.status).toBe(403);
    const status = await client.callTool({ name: 'interlock.missions.status', arguments: { missionId } });
    expect(structured(status).status).toBe('pending_approval');
    // A second identity approves; the call runs once.
    const granted = await it_.post(`/v1/approvals/${body.approval.approvalId}/approve`, { actionHash: approval.json.approval.actionHash }, tokens.amy);
    expect(granted.status, JSON.stringify(granted.json)).toBe(200);
    await it_.waitFor(missionId);
    const done = await client.callTool({ name: 'interlock.missions.status', arguments: { missionId } });
    expect(done.isError).toBeFalsy();
    expect(structured(done)).toMatchObject({ ledgerId: expect.any(String) });
    expect((await it_.ledger.query('select count(*)::int as n from ledger where mission_id = $1', [missionId])).rows[0].n).toBe(1);
  });

  it('interlock.approvals.request asks for approval even where policy would allow the plan', async () => {
    const client = await connect('claude-agent');
    const result = await client.callTool({ name: 'interlock.approvals.request', arguments: { title: 'noop, reviewed', steps: [{ tool: 'builtin.noop' }] } });
    expect(structured(result)).toMatchObject({ status: 'pending_approval' });
    const mission = await it_.running.engine.get(structured(result).missionId);
    expect(mission.decision?.reasons.map((r) => r.rule)).toContain('request/require-approval');
  });
});

describe('MCP server: resources and prompts', () => {
  it('serves the mission report of a call and refuses audit entries to a principal without audit:read', async () => {
    const client = await connect('claude-agent');
    const call = await client.callTool({ name: 'builtin.noop', arguments: {} });
    const missionId = (call._meta as any)[TOOL_META_KEY].missionId as string;
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['interlock://missions/{missionId}/report', 'interlock://audit/entries/{index}', 'interlock://audit/proofs/{index}']);
    const report = await client.readResource({ uri: `interlock://missions/${missionId}/report` });
    expect(report.contents[0]).toMatchObject({ mimeType: 'text/markdown' });
    expect((report.contents[0] as { text: string }).text).toContain(missionId);
    await expect(client.readResource({ uri: 'interlock://audit/entries/0' })).rejects.toThrow(/lacks audit:read/);
    const admin = await connect('test-admin');
    const entry = await admin.readResource({ uri: 'interlock://audit/entries/0' });
    expect(JSON.parse((entry.contents[0] as { text: string }).text)).toMatchObject({ index: 0, entry: { schemaVersion: 1 } });
    await it_.running.audit.checkpoint();
    const proof = JSON.parse(((await admin.readResource({ uri: "interlock://audit/proofs/0" })).contents[0] as { text: string }).text) as { index: number; size: number; proof: string[] };
    expect(proof.index).toBe(0);
    expect(proof.size).toBeGreaterThan(1);
  });

  it('lists the incident-triage prompt and refuses an unknown incident by its argument', async () => {
    const client = await connect('claude-agent');
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['incident_triage']);
    await expect(client.getPrompt({ name: 'incident_triage', arguments: { incidentId: '00000000-0000-4000-8000-000000000000' } })).rejects.toThrow(/No incident/);
  });
});

describe('MCP server: the HTTP guards', () => {
  const initialize = (headers: Record<string, string>) => fetch(`${it_.running.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });

  it('answers a request without a token 401 with a challenge naming the protected-resource metadata', async () => {
    const response = await initialize({});
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${it_.running.url}/.well-known/oauth-protected-resource/mcp"`);
    const revoked = await initialize({ authorization: 'Bearer il_not-a-token' });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('takes a JWT from the configured issuer for the same principal, and serves the protected-resource metadata without a token', async () => {
    const jwt = await new SignJWT({ scope: 'mcp' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISSUER).setAudience('interlock-mcp-test').setSubject('claude-agent').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const client = await connect('claude-agent', '', { token: jwt });
    const result = await client.callTool({ name: 'builtin.noop', arguments: {} });
    const missionId = (result._meta as any)[TOOL_META_KEY].missionId as string;
    expect((await it_.running.engine.get(missionId)).requester).toBe('claude-agent');
    const wrongAudience = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISSUER).setAudience('another-resource').setSubject('claude-agent').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const refused = await initialize({ authorization: `Bearer ${wrongAudience}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const metadata = await fetch(`${it_.running.url}/.well-known/oauth-protected-resource/mcp`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ resource: `${it_.running.url}/mcp`, authorization_servers: [ISSUER], bearer_methods_supported: ['header'] });
  });

  it('refuses a foreign Host or Origin (DNS rebinding) before looking at the token', async () => {
    // fetch may not set Host; node:http sends it as given, as a rebound browser would.
    const url = new URL(`${it_.running.url}/mcp`);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({ host: url.hostname, port: url.port, path: '/mcp', method: 'POST', headers: { host: 'evil.example:80', 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${tokens['claude-agent']}` } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end('{}');
    });
    expect(status).toBe(403);
    expect((await initialize({ origin: 'http://evil.example', authorization: `Bearer ${tokens['claude-agent']}` })).status).toBe(403);
  });

  it('refuses a session to a principal without missions:read in its project, and hides sessions of others', async () => {
    const denied = await initialize({ authorization: `Bearer ${tokens.vic}` });
    expect(denied.status).toBe(403);
    const opened = await initialize({ authorization: `Bearer ${tokens['claude-agent']}` });
    const sessionId = opened.headers.get('mcp-session-id')!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const hijack = await fetch(`${it_.running.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${tokens.amy}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(hijack.status).toBe(404);
  });
});
