// The MCP Inspector's CLI (@modelcontextprotocol/inspector 0.15, --cli) lists and calls Interlock's
// governed tools, over stdio through `interlock mcp` (the built CLI, relaying to a running Interlock)
// and over Streamable HTTP (through a loopback proxy adding the token: the 0.15 CLI sends no
// headers). A write-prod call comes back pending and runs only after a second identity approves.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBearerProxy, type BearerProxy } from '../support/bearer-proxy.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const inspector = join(root, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');
const interlockBin = join(root, 'bin/interlock.js');

let it_: TestInterlock;
let proxy: BearerProxy;
let dir: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-inspector-'));
  const config = join(dir, 'interlock.yaml');
  await writeFile(config, 'mcp:\n  server:\n    allowedHosts: ["127.0.0.1"]\n');
  it_ = await startTestInterlock('mcp_inspector', { env: { INTERLOCK_CONFIG: config } });
  tokens.agent = (await createPrincipalWithToken(it_.running, { name: 'inspector-agent', kind: 'agent', roles: { default: ['operator'] } })).token;
  tokens.amy = (await createPrincipalWithToken(it_.running, { name: 'amy', kind: 'human', roles: { default: ['approver'] } })).token;
  proxy = await startBearerProxy(it_.running.url, tokens.agent);
});

afterAll(async () => {
  await proxy?.close();
  await it_?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Runs the Inspector CLI against `target` with `args` and returns its JSON output. */
async function inspect(target: string[], args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [inspector, '--cli', ...target, ...args], {
    cwd: dir, timeout: 60_000, env: { ...process.env, INTERLOCK_TOKEN: tokens.agent, INTERLOCK_CONFIG: '' },
  });
  return JSON.parse(stdout);
}

const stdio = (): string[] => [process.execPath, interlockBin, 'mcp', '--url', it_.running.url];

describe('MCP Inspector CLI', () => {
  it('lists the governed tools over stdio (interlock mcp) and over Streamable HTTP', async () => {
    const overStdio = await inspect(stdio(), ['--method', 'tools/list']);
    const names = (overStdio.tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ledger.balance', 'ledger.append-prod', 'interlock.missions.status']));
    const overHttp = await inspect([`${proxy.url}/mcp`], ['--transport', 'http', '--method', 'tools/list']);
    expect((overHttp.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(names);
  });

  it('calls a read tool, and a write-prod call runs only after a second identity approves', async () => {
    const read = await inspect(stdio(), ['--method', 'tools/call', '--tool-name', 'ledger.balance', '--tool-arg', 'atLeast=0']);
    expect(read.structuredContent).toMatchObject({ ok: true, balance: 0 });

    const pending = await inspect([`${proxy.url}/mcp`], ['--transport', 'http', '--method', 'tools/call', '--tool-name', 'ledger.append-prod', '--tool-arg', 'amount=5']);
    expect(pending.structuredContent).toMatchObject({ status: 'pending_approval', approval: { approvalId: expect.any(String) } });
    const missionId = pending.structuredContent.missionId as string;
    expect((await it_.ledger.query('select count(*)::int as n from ledger where mission_id = $1', [missionId])).rows[0].n).toBe(0);

    const approvalId = pending.structuredContent.approval.approvalId as string;
    const shown = await it_.get(`/v1/approvals/${approvalId}`, tokens.amy);
    const refused = await it_.post(`/v1/approvals/${approvalId}/approve`, { actionHash: shown.json.approval.actionHash }, tokens.agent);
    expect(refused.status).toBe(403);
    const granted = await it_.post(`/v1/approvals/${approvalId}/approve`, { actionHash: shown.json.approval.actionHash }, tokens.amy);
    expect(granted.status, JSON.stringify(granted.json)).toBe(200);
    await it_.waitFor(missionId);

    const status = await inspect(stdio(), ['--method', 'tools/call', '--tool-name', 'interlock.missions.status', '--tool-arg', `missionId=${missionId}`]);
    expect(status.structuredContent).toMatchObject({ ledgerId: expect.any(String) });
    expect((await it_.ledger.query('select count(*)::int as n from ledger where mission_id = $1', [missionId])).rows[0].n).toBe(1);
  });

  it('interlock mcp without a token says what to set and exits 2', async () => {
    const failed = await run(process.execPath, [interlockBin, 'mcp', '--url', it_.running.url], { cwd: dir, env: { ...process.env, INTERLOCK_TOKEN: '', INTERLOCK_CONFIG: '' } })
      .then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('INTERLOCK_TOKEN');
  });
});
