import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InterlockError } from '../../core/errors.js';
import type { Mission, MissionDetail } from '../../core/missions/mission.js';
import { ApiError, createApiClient } from '../api-client.js';
import type { CliContext } from '../context.js';
import type { MissionPage } from '../deps.js';
import { runCli } from '../program.js';

// Answers of the HTTP API recorded from a real Interlock by test/cli/record-fixtures.ts (IDs and times as
// they came): GET /v1/missions with three missions (waiting for approval, escalated, resolved), GET
// /v1/missions/:id of the escalated one, and error answers. test/cli/fixtures.int.test.ts fails when the
// server no longer answers like this.
interface RecordedError {
  readonly request: string;
  readonly status: number;
  readonly body: { error: { code: string; message: string; details: Record<string, unknown> } };
}
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
const LIST = fixture<MissionPage>('missions-list.json');
const DETAIL = fixture<{ mission: MissionDetail }>('mission-detail.json').mission;
const ERRORS = fixture<Record<'alreadyFinished' | 'notFound' | 'invalidId', RecordedError>>('api-errors.json');
const [AWAITING, ESCALATED, RESOLVED] = LIST.missions as [Mission, Mission, Mission];
/** Five minutes after the newest listed mission was created. */
const NOW: number = AWAITING.createdAt + 5 * 60_000;

/** What the test server was asked, in order: method and path with query. */
let requests: string[] = [];
let server: Server;
let baseUrl: string;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Answers a recorded request (`METHOD /path`) with its recorded error, if one was recorded. */
function recordedError(req: IncomingMessage): { status: number; body: unknown } | undefined {
  return Object.values(ERRORS).find((error) => error.request === `${req.method} ${req.url}`);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`${req.method} ${req.url}`);
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const project = new URL(req.url ?? '/', 'http://x').searchParams.get('project');
  const error = recordedError(req);
  if (error !== undefined) return send(res, error.status, error.body);
  if (req.method === 'GET' && path === '/v1/missions' && project === 'paged') return send(res, 200, { ...LIST, next: RESOLVED.id });
  if (req.method === 'GET' && path === '/v1/missions' && project === 'old-server') return send(res, 200, LIST.missions);
  if (req.method === 'GET' && path === '/v1/missions') return send(res, 200, LIST);
  if (req.method === 'GET' && path === `/v1/missions/${DETAIL.id}`) return send(res, 200, { mission: DETAIL });
  if (path === `/reworded/v1/missions/${DETAIL.id}`) return send(res, 200, { mission: { ...DETAIL, escalation: { ...DETAIL.escalation, reason: 'the ledger refused the entry' } } });
  if (path.startsWith('/newer/')) return send(res, 423, { error: { code: 'MISSION_LOCKED', message: 'Mission is locked by an operator; try again later.', details: { by: 'alice' } } });
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
    deps: { serve: notCalled, migrate: notCalled, doctor: notCalled, demo: notCalled, estateDemo: notCalled, openIdentity: notCalled, createApiClient },
    debug: false,
    now: () => NOW,
  };
  const code = await runCli(args, ctx);
  return { code, stdout: stdout.join('\n'), stderr };
}

/** The cells of each table row that starts with a mission ID. */
function rowsOf(stdout: string): string[][] {
  return stdout.split('\n').filter((line) => /^│ [0-9a-f]{8}-/.test(line)).map((line) => line.split('│').map((cell) => cell.trim()).slice(1, -1));
}

describe('missions list', () => {
  it('prints a table: ID, title, project, stage, outcome, risk, age', async () => {
    const { code, stdout, stderr } = await cli(['missions', 'list', '--url', baseUrl]);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    expect(stdout.split('\n')[1]).toMatch(/^│ ID\s+│ TITLE\s+│ PROJECT │ STAGE\s+│ OUTCOME\s+│ RISK\s+│ AGE │$/);
    expect(rowsOf(stdout)).toEqual([
      [AWAITING.id, 'Credit 7 to the production ledger', 'shop', 'review (awaiting approval)', '-', 'write-prod', '5m'],
      [ESCALATED.id, 'Credit the ledger twice; the second entry is re…', 'shop', 'escalate', 'escalated', 'write-low', '5m'],
      [RESOLVED.id, 'Collect evidence for disk pressure on db-1', 'default', 'close', 'resolved', 'read', '5m'],
    ]);
    expect(requests).toEqual(['GET /v1/missions']);
  });

  it('prints the missions as JSON with --json', async () => {
    const { code, stdout } = await cli(['missions', 'list', '--url', baseUrl, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(LIST);
  });

  it('sends the filters as query parameters', async () => {
    const { code } = await cli(['missions', 'list', '--url', baseUrl, '--project', 'shop', '--stage', 'review', '--running', '--limit', '5', '--before', RESOLVED.id]);
    expect(code).toBe(0);
    expect(requests).toEqual([`GET /v1/missions?project=shop&stage=review&running=true&limit=5&before=${RESOLVED.id}`]);
    await cli(['missions', 'list', '--url', baseUrl, '--finished', '--outcome', 'escalated']);
    expect(requests[1]).toBe('GET /v1/missions?outcome=escalated&running=false');
  });

  it('says how to get the next page when there is one', async () => {
    const { code, stdout } = await cli(['missions', 'list', '--url', baseUrl, '--project', 'paged']);
    expect(code).toBe(0);
    expect(stdout.split('\n').at(-1)).toBe(`more: add --before ${RESOLVED.id}`);
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

  it('rejects a --url with a user name or password as a usage error, without echoing the password', async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', 'http://admin:hunter2@127.0.0.1:7411']);
    expect(code).toBe(2);
    expect(stderr).toEqual(["interlock: option '--url <url>' argument 'http://admin:***@127.0.0.1:7411' is invalid. expected a URL without a user name or password; see interlock --help"]);
    expect(requests).toEqual([]);
  });
});

describe('missions show', () => {
  it('prints the mission, its steps (context, plan, compensation) and its stage history', async () => {
    const { code, stdout } = await cli(['missions', 'show', DETAIL.id, '--url', baseUrl]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Mission ${DETAIL.id}: Credit the ledger twice; the second entry is refused\n`));
    expect(stdout).toMatch(/\n {2}stage {7}escalate\n {2}outcome {5}escalated\n {2}risk {8}write-low\n/);
    expect(stdout).toMatch(/\n {2}created {5}\d{4}-\d\d-\d\dT[\d:.]+Z \(5m ago\)\n/);
    // The reason names the step already; it is not named twice.
    expect(stdout).toContain('\n  escalation  step s2 (ledger.append) failed: the ledger refused the entry (injected failure)\n');
    expect(stdout).toMatch(/│ STEP\s+│ TOOL\s+│ RISK\s+│ STATUS\s+│ ATTEMPTS │ DURATION │/);
    const steps = stdout.split('\n').filter((line) => /^│ (context\/balance|credit|s2|credit\.undo) /.test(line)).map((line) => line.split('│').map((cell) => cell.trim()).slice(1, -2));
    expect(steps).toEqual([
      ['context/balance', 'builtin.noop', 'read', 'succeeded', '1'],
      ['credit', 'ledger.append', 'write-low', 'compensated', '1'],
      ['s2', 'ledger.append', 'write-low', 'failed (TOOL_FAILED)', '1'],
      ['credit.undo', 'ledger.remove', 'write-low', 'succeeded', '1'],
    ]);
    expect(stdout).toMatch(/│ \d{4}-\d\d-\d\dT[\d:.]+Z │ \(new\) → intake\s+│ requested by triage-agent: Credit the ledger twice; the second entry is refused\s+│/);
    expect(stdout).toMatch(/│ \d{4}-\d\d-\d\dT[\d:.]+Z │ execute → escalate\s+│ step s2 \(ledger\.append\) failed/);
    expect(requests).toEqual([`GET /v1/missions/${DETAIL.id}`]);
  });

  it('names the step of an escalation whose reason does not', async () => {
    const { code, stdout } = await cli(['missions', 'show', DETAIL.id, '--url', `${baseUrl}/reworded`]);
    expect(code).toBe(0);
    expect(stdout).toContain('\n  escalation  the ledger refused the entry (step s2)\n');
  });

  it('prints the mission as JSON with --json', async () => {
    const { code, stdout } = await cli(['--json', 'missions', 'show', DETAIL.id, '--url', baseUrl]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(DETAIL);
  });

  it("reports the server's error message in one line and exits 1", async () => {
    const { code, stdout, stderr } = await cli(['missions', 'show', '00000000-0000-4000-8000-000000000000', '--url', baseUrl]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toEqual([`interlock: ${ERRORS.notFound.body.error.message}`]);
  });

  it('prints each problem the server names in details.issues on a line of its own', async () => {
    const { code, stderr } = await cli(['missions', 'show', 'nope', '--url', baseUrl]);
    expect(code).toBe(1);
    expect(stderr).toHaveLength(2);
    expect(stderr[0]).toBe(`interlock: ${ERRORS.invalidId.body.error.message}`);
    expect(stderr[1]).toMatch(/^ {2}params\.id: .+ \(expected uuid, got "nope"\)$/);
  });
});

describe('missions cancel', () => {
  it('posts the cancel request and reports a refusal in one line', async () => {
    const { code, stderr } = await cli(['missions', 'cancel', DETAIL.id, '--url', baseUrl]);
    expect(requests).toEqual([`POST /v1/missions/${DETAIL.id}/cancel`]);
    expect(code).toBe(1);
    expect(stderr).toEqual([`interlock: ${ERRORS.alreadyFinished.body.error.message}`]);
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

  it("keeps the server's message for an error code this CLI does not know (a newer server)", async () => {
    const { code, stderr } = await cli(['missions', 'list', '--url', `${baseUrl}/newer`]);
    expect(code).toBe(1);
    expect(stderr).toEqual(['interlock: Mission is locked by an operator; try again later.']);
  });
});

describe('API client errors', () => {
  const client = (path = '', timeoutMs = 10_000) => createApiClient({ baseUrl: `${baseUrl}${path}`, timeoutMs });

  it('are registered InterlockErrors: the server\'s code, message and details for an error answer', async () => {
    const error = await client().get('nope').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toBeInstanceOf(InterlockError);
    expect(error).toMatchObject({ code: 'INPUT_INVALID', kind: 'input', status: 400, httpStatus: 400, message: ERRORS.invalidId.body.error.message, details: ERRORS.invalidId.body.error.details });
  });

  it('use API_UNREACHABLE, API_TIMEOUT and API_RESPONSE_INVALID for failures of their own', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await createApiClient({ baseUrl: url, timeoutMs: 10_000 }).list({}).catch((caught: unknown) => caught);
    expect(unreachable).toMatchObject({ code: 'API_UNREACHABLE', kind: 'unavailable', status: 503, httpStatus: undefined, details: { url, method: 'GET', path: '/v1/missions' } });
    expect((unreachable as Error).cause).toBeInstanceOf(Error);

    const timeout = await client('/slow', 100).list({}).catch((caught: unknown) => caught);
    expect(timeout).toMatchObject({ code: 'API_TIMEOUT', kind: 'unavailable', status: 504, details: { timeoutMs: 100 } });

    const proxy = await client('/broken').list({}).catch((caught: unknown) => caught);
    expect(proxy).toMatchObject({ code: 'API_RESPONSE_INVALID', kind: 'connector', status: 502, httpStatus: 502 });

    const newer = await client('/newer').list({}).catch((caught: unknown) => caught);
    expect(newer).toMatchObject({ code: 'API_RESPONSE_INVALID', httpStatus: 423, details: { serverCode: 'MISSION_LOCKED', serverDetails: { by: 'alice' } } });
  });
});
