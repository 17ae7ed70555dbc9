import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../api-client.js';
import type { CliContext } from '../context.js';
import { runCli } from '../program.js';

// Response bodies of GET /v1/missions ({ missions, next }) and GET /v1/missions/:id ({ mission }) as
// src/server/routes/missions.ts defines them. Hand-written to that schema, not captured from a running
// server; replace them with recorded ones once the server runs end to end.
const LIST = JSON.parse(readFileSync(new URL('../fixtures/missions-list.json', import.meta.url), 'utf8'));
const DETAIL = JSON.parse(readFileSync(new URL('../fixtures/mission-detail.json', import.meta.url), 'utf8')).mission;
/** Five minutes after the first listed mission was created. */
const NOW = 1_767_225_600_000;

/** What the test server was asked, in order: method and path with query. */
let requests: string[] = [];
let server: Server;
let baseUrl: string;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`${req.method} ${req.url}`);
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const project = new URL(req.url ?? '/', 'http://x').searchParams.get('project');
  if (req.method === 'GET' && path === '/v1/missions' && project === 'paged') return send(res, 200, { ...LIST, next: LIST.missions[1].id });
  if (req.method === 'GET' && path === '/v1/missions' && project === 'old-server') return send(res, 200, LIST.missions);
  if (req.method === 'GET' && path === '/v1/missions') return send(res, 200, LIST);
  if (req.method === 'GET' && path === `/v1/missions/${DETAIL.id}`) return send(res, 200, { mission: DETAIL });
  if (req.method === 'POST' && path === `/v1/missions/${DETAIL.id}/cancel`) {
    return send(res, 409, { error: { code: 'MISSION_ALREADY_FINISHED', message: `mission ${DETAIL.id} has already finished (escalated); it cannot be cancelled`, details: {} } });
  }
  if (path.startsWith('/v1/missions/')) return send(res, 404, { error: { code: 'MISSION_NOT_FOUND', message: 'no mission has ID nope', details: { id: 'nope' } } });
  if (path.startsWith('/broken/')) return void res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
  if (path === '/slow/v1/missions') return; // never answers
  send(res, 404, { error: { code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${path}`, details: {} } });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
});

/** Runs the CLI in-process against the real HTTP client; a cwd without interlock.yaml. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const notCalled = () => Promise.reject(new Error('the missions commands must not call the server module'));
  const ctx: CliContext = {
    io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) },
    env,
    cwd: tmpdir(),
    deps: { serve: notCalled, migrate: notCalled, doctor: notCalled, createApiClient },
    debug: false,
    now: () => NOW,
  };
  const code = await runCli(args, ctx);
  return { code, stdout: stdout.join('\n'), stderr };
}

describe('missions list', () => {
  it('prints a table: ID, title, project, stage, outcome, risk, age', async () => {
    const { code, stdout, stderr } = await cli(['missions', 'list', '--url', baseUrl]);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[1]).toMatch(/^│ ID\s+│ TITLE\s+│ PROJECT │ STAGE\s+│ OUTCOME\s+│ RISK\s+│ AGE │$/);
    const rows = lines.filter((line) => /^│ [0-9a-f]{8}-/.test(line));
    expect(rows).toHaveLength(2);
    expect(rows[0]?.split('│').map((cell) => cell.trim()).slice(1, -1)).toEqual([
      '0f8c2b1e-6d0a-4c61-9a57-3e2d8b4f1a90', 'Restart checkout-api on web-2 after 5xx burst', 'shop', 'review (awaiting approval)', '-', 'write-prod', '5m',
    ]);
    expect(rows[1]?.split('│').map((cell) => cell.trim()).slice(1, -1)).toEqual([
      '5b1e9d3c-2a47-4f08-b6c1-7d9e0a2f4c38', 'Collect evidence for disk pressure on db-1', 'default', 'close', 'resolved', 'read', '3h',
    ]);
    expect(requests).toEqual(['GET /v1/missions']);
  });

  it('prints the missions as JSON with --json', async () => {
    const { code, stdout } = await cli(['missions', 'list', '--url', baseUrl, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(LIST);
  });

  it('sends the filters as query parameters', async () => {
    const { code } = await cli(['missions', 'list', '--url', baseUrl, '--project', 'shop', '--stage', 'review', '--running', '--limit', '5', '--before', '5b1e9d3c-2a47-4f08-b6c1-7d9e0a2f4c38']);
    expect(code).toBe(0);
    expect(requests).toEqual(['GET /v1/missions?project=shop&stage=review&running=true&limit=5&before=5b1e9d3c-2a47-4f08-b6c1-7d9e0a2f4c38']);
    await cli(['missions', 'list', '--url', baseUrl, '--finished', '--outcome', 'escalated']);
    expect(requests[1]).toBe('GET /v1/missions?outcome=escalated&running=false');
  });

  it('says how to get the next page when there is one', async () => {
    const { code, stdout } = await cli(['missions', 'list', '--url', baseUrl, '--project', 'paged']);
    expect(code).toBe(0);
    expect(stdout.split('\n').at(-1)).toBe(`more: add --before ${LIST.missions[1].id}`);
  });

  it('refuses a response that is not { missions, next }', async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', baseUrl, '--project', 'old-server']);
    expect(code).toBe(1);
    expect(stderr).toEqual([`interlock: Interlock at ${baseUrl} answered with something other than { missions, next }; are the CLI and the server the same version?`]);
  });

  it('finds the server at server.host and server.port from the configuration when --url is not given', async () => {
    const port = new URL(baseUrl).port;
    const { code } = await cli(['missions', 'list'], { INTERLOCK_HOST: '0.0.0.0', INTERLOCK_PORT: port });
    expect(code).toBe(0);
    expect(requests).toEqual(['GET /v1/missions']);
  });

  it('rejects a stage that does not exist as a usage error', async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', baseUrl, '--stage', 'planning']);
    expect(code).toBe(2);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^interlock: option '--stage <stage>' argument 'planning' is invalid\. Allowed choices are intake, context, plan/);
    expect(requests).toEqual([]);
  });
});

describe('missions show', () => {
  it('prints the mission, its steps and its stage history', async () => {
    const { code, stdout } = await cli(['missions', 'show', DETAIL.id, '--url', baseUrl]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Mission 0f8c2b1e-6d0a-4c61-9a57-3e2d8b4f1a90: Restart checkout-api on web-2 after 5xx burst\n/);
    expect(stdout).toMatch(/\n {2}outcome {5}escalated\n/);
    expect(stdout).toContain('  escalation  verification failed: 5xx rate stayed above 0.05 for 60 s (step s1)');
    expect(stdout).toMatch(/│ STEP\s+│ TOOL\s+│ RISK\s+│ STATUS\s+│ ATTEMPTS │ DURATION │/);
    expect(stdout).toMatch(/│ context\/c1 │ prometheus\.query\s+│ read\s+│ succeeded │ 1\s+│ 350ms\s+│/);
    expect(stdout).toMatch(/│ s1\s+│ supervisor\.restart │ write-prod │ succeeded │ 2\s+│ 12\.4s\s+│/);
    expect(stdout).toMatch(/│ 2025-12-31T23:55:00\.000Z │ \(new\) → intake\s+│ mission created\s+│/);
    expect(stdout).toMatch(/│ 2025-12-31T23:57:00\.000Z │ verify → escalate\s+│ verification failed/);
    expect(requests).toEqual([`GET /v1/missions/${DETAIL.id}`]);
  });

  it('prints the mission as JSON with --json', async () => {
    const { code, stdout } = await cli(['--json', 'missions', 'show', DETAIL.id, '--url', baseUrl]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(DETAIL);
  });

  it("reports the server's error message in one line and exits 1", async () => {
    const { code, stdout, stderr } = await cli(['missions', 'show', 'nope', '--url', baseUrl]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toEqual(['interlock: no mission has ID nope']);
  });
});

describe('missions cancel', () => {
  it('posts the cancel request and reports a refusal in one line', async () => {
    const { code, stderr } = await cli(['missions', 'cancel', DETAIL.id, '--url', baseUrl]);
    expect(requests).toEqual([`POST /v1/missions/${DETAIL.id}/cancel`]);
    expect(code).toBe(1);
    expect(stderr).toEqual([`interlock: mission ${DETAIL.id} has already finished (escalated); it cannot be cancelled`]);
  });
});

describe('when the server cannot answer', () => {
  it('exits 1 with one line when nothing listens at the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const { code, stdout, stderr } = await cli(['missions', 'list', '--url', url]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toEqual([`interlock: cannot reach Interlock at ${url}: is \`interlock serve\` running?`]);
  });

  it('gives up after --timeout ms', async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', `${baseUrl}/slow`, '--timeout', '200']);
    expect(code).toBe(1);
    expect(stderr).toEqual([`interlock: Interlock at ${baseUrl}/slow did not answer GET /v1/missions within 200 ms; try again or raise --timeout`]);
  });

  it('says so when an error response has no error body (a proxy in between)', async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', `${baseUrl}/broken`]);
    expect(code).toBe(1);
    expect(stderr).toEqual([`interlock: Interlock at ${baseUrl}/broken answered GET /v1/missions with HTTP 502 and no error body`]);
  });
});
