import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { ToolContext } from '../../core/tools/tool.js';
import { SupervisorConfigSchema, type SupervisorConfig } from './supervisor-config.js';
import { createSupervisorConnector } from './supervisor-connector.js';
import { encodeMethodCall, type XmlRpcValue } from './xml-rpc.js';

const recorded = (name: string): string => readFileSync(new URL(`../../../test/fixtures/supervisor/${name}.xml`, import.meta.url), 'utf8');
const context = (key = 'm:s1'): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: 's1', attempt: 1, signal: new AbortController().signal });
const PROCESSES = [
  { name: 'web', service: 'checkout', tier: 'prod', risk: 'write-prod' },
  { name: 'worker_00', group: 'workers', service: 'queue' },
];
const config = (overrides: Record<string, unknown> = {}): SupervisorConfig =>
  SupervisorConfigSchema.parse({ enabled: true, url: 'http://127.0.0.1:1/RPC2', timeoutMs: 1000, processes: PROCESSES, ...overrides });

/**
 * A stand-in for supervisord that answers each exact XML-RPC request body with a recorded answer of the
 * real one (test/fixtures/supervisor), `{ hang: true }` never answers, and anything else is answered 500, so a
 * request the connector should not send fails the test.
 */
/** A recorded answer, `{ hang: true }` (never answered) or HTTP 401. */
type Reply = string | { readonly hang: true } | 401;
let replies = new Map<string, Reply>();
const received: string[] = [];
let server: Server;
let url: string;
const reply = (method: string, params: XmlRpcValue[], answer: Reply): void => {
  replies.set(encodeMethodCall(method, params), answer);
};

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(body);
      const answer = replies.get(body);
      if (typeof answer === 'object') return;
      if (answer === 401) return void response.writeHead(401).end('Unauthorized');
      if (answer === undefined) return void response.writeHead(500).end(`unexpected request ${body}`);
      response.writeHead(200, { 'content-type': 'text/xml' }).end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/RPC2`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const connect = (overrides: Record<string, unknown> = {}): ToolCatalog => {
  replies = new Map();
  received.length = 0;
  const catalog = new ToolCatalog(createSupervisorConnector(config({ url, ...overrides })));
  catalog.check();
  return catalog;
};
const errorOf = async (promise: Promise<unknown>): Promise<ConnectorError> => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof ConnectorError)) throw new Error(`expected a ConnectorError, got ${String(error)}`);
  return error;
};

describe('supervisor config', () => {
  it('defaults risk to write-low and refuses duplicates, an empty list when enabled, and credentials in the URL', () => {
    expect(config({ processes: [{ name: 'web' }] }).processes).toEqual([{ name: 'web', risk: 'write-low' }]);
    const paths = (input: Record<string, unknown>) => SupervisorConfigSchema.safeParse(input).error?.issues.map((i) => i.path.join('.'));
    expect(paths({ enabled: true, processes: [{ name: 'web' }, { name: 'web', group: 'web' }] })).toEqual(['processes.1.name']);
    expect(paths({ enabled: true })).toEqual(['processes']);
    expect(paths({ enabled: false })).toBeUndefined();
    expect(paths({ url: 'http://u:p@127.0.0.1:9001/RPC2' })).toEqual(['url']);
    expect(paths({ processes: [{ name: 'a:b' }] })).toEqual(['processes.0.name']);
    expect(paths({ processes: [{ name: 'web', risk: 'read' }] })).toEqual(['processes.0.risk']);
  });

  it('refuses to start when the password variable is unset', () => {
    expect(() => createSupervisorConnector(config({ basicAuth: { username: 'u', passwordEnv: 'SUPERVISOR_PASSWORD' } }))).toThrow(/SUPERVISOR_PASSWORD/);
  });
});

describe('supervisor connector: contracts and arguments', () => {
  const catalog = new ToolCatalog(createSupervisorConnector(config()));
  const issues = (tool: string, args: unknown) => {
    const result = catalog.validateArgs(tool, args, 'steps.0');
    return result.ok ? [] : result.issues;
  };

  it('accepts only configured processes, naming the field when refusing another', () => {
    expect(issues('supervisor.restart', { process: 'web' })).toEqual([]);
    expect(issues('supervisor.stop', { process: 'workers:worker_00' })).toEqual([]);
    expect(issues('supervisor.status', {})).toEqual([]);
    const refused = issues('supervisor.restart', { process: 'sshd' });
    expect(refused).toMatchObject([{ path: 'steps.0.args.process' }]);
    expect(refused[0]?.message).toContain('connectors.supervisor.processes (web, workers:worker_00)');
    expect(issues('supervisor.start', { process: 'worker_00' })).toMatchObject([{ path: 'steps.0.args.process' }]);
    expect(issues('supervisor.start', { process: 'web', extra: 1 })).toMatchObject([{ path: 'steps.0.args' }]);
  });

  it('declares risk, idempotency, permissions, compensations and targets', () => {
    const [status, start, stop, restart] = ['status', 'start', 'stop', 'restart'].map((verb) => catalog.get(`supervisor.${verb}`));
    expect(status).toMatchObject({ risk: 'read', idempotent: true, permission: 'supervisor:read' });
    // one process is write-prod, so every write is
    expect(start).toMatchObject({ risk: 'write-prod', idempotent: true, permission: 'supervisor:start', compensation: { tool: 'supervisor.stop' } });
    expect(stop).toMatchObject({ risk: 'write-prod', idempotent: true, permission: 'supervisor:stop', compensation: { tool: 'supervisor.start' } });
    expect(restart).toMatchObject({ risk: 'write-prod', idempotent: false, permission: 'supervisor:restart' });
    expect(restart!.compensation).toBeUndefined();
    expect('probe' in restart!).toBe(true);
    expect(restart!.target!({ process: 'web' })).toEqual({ service: 'checkout', tier: 'prod', labels: { system: 'supervisor', process: 'web', group: 'web', risk: 'write-prod' } });
    expect(stop!.target!({ process: 'workers:worker_00' })).toEqual({ service: 'queue', tier: null, labels: { system: 'supervisor', process: 'workers:worker_00', group: 'workers', risk: 'write-low' } });
    expect(new ToolCatalog(createSupervisorConnector(config({ processes: [{ name: 'web' }] }))).get('supervisor.start').risk).toBe('write-low');
  });
});

describe('supervisor connector: faults and idempotency', () => {
  it('reports status with times in ms and null where they do not apply', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-stopped'));
    const result = await catalog.get('supervisor.status').execute({ process: 'web' }, context());
    expect(result.processes).toMatchObject([{ process: 'web', state: 'STOPPED', pid: null, uptimeMs: null, exitStatus: expect.any(Number) }]);
    expect(result.processes[0].startedAt % 1000).toBe(0);
  });

  it('lists only configured processes, and those supervisord does not know as missing', async () => {
    const catalog = connect();
    reply('supervisor.getAllProcessInfo', [], recorded('get-all-process-info'));
    const result = await catalog.get('supervisor.status').execute({}, context());
    expect(result.processes.map((p: { process: string }) => p.process)).toEqual(['web']);
    expect(result.missing).toEqual(['workers:worker_00']);
  });

  it('treats ALREADY_STARTED as success without change', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-stopped'));
    reply('supervisor.startProcess', ['web:web', true], recorded('fault-already-started'));
    const result = await catalog.get('supervisor.start').execute({ process: 'web' }, context());
    expect(result).toMatchObject({ process: 'web', changed: false });
  });

  it('does not call start for a process already starting or running', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-starting'));
    const result = await catalog.get('supervisor.start').execute({ process: 'web' }, context());
    expect(result).toMatchObject({ changed: false, current: { state: 'STARTING' } });
    expect(received).toHaveLength(1);
  });

  it('treats NOT_RUNNING as success without change when stopping', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-starting'));
    reply('supervisor.stopProcess', ['web:web', true], recorded('fault-not-running'));
    expect(await catalog.get('supervisor.stop').execute({ process: 'web' }, context())).toMatchObject({ changed: false });
  });

  it('a compensation of a call that changed nothing sends no write', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-starting'));
    const start = catalog.get('supervisor.start');
    const undo = start.compensation!.args({ process: 'web' }, { changed: false });
    expect(undo).toEqual({ process: 'web', compensates: { tool: 'supervisor.start', changed: false } });
    expect(await catalog.get('supervisor.stop').execute(catalog.validateArgs('supervisor.stop', undo, 'c').ok ? undo : {}, context())).toMatchObject({ changed: false });
    expect(received.every((body) => body.includes('getProcessInfo'))).toBe(true);
  });

  it('maps BAD_NAME to a non-retryable failure naming the configuration', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['workers:worker_00'], recorded('fault-bad-name'));
    const error = await errorOf(catalog.get('supervisor.restart').execute({ process: 'workers:worker_00' }, context()));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'supervisor', systemStatus: 'BAD_NAME', retryable: false, outcomeUnknown: false });
    expect(error.message).toContain('connectors.supervisor.processes');
  });

  it('maps HTTP 401 to a non-retryable failure about the credentials', async () => {
    const catalog = connect();
    reply('supervisor.getAllProcessInfo', [], 401);
    const error = await errorOf(catalog.get('supervisor.status').execute({}, context()));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', systemStatus: 401, retryable: false });
    expect(error.message).toContain('basicAuth');
  });

  it('marks a write that timed out as outcome unknown, and a refused connection as not sent', async () => {
    const catalog = connect({ timeoutMs: 300 });
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-starting'));
    reply('supervisor.stopProcess', ['web:web', true], { hang: true });
    expect(await errorOf(catalog.get('supervisor.stop').execute({ process: 'web' }, context()))).toMatchObject({ code: 'TOOL_TIMEOUT', retryable: true, outcomeUnknown: true });

    const closed = await getPort({ host: '127.0.0.1' });
    const refused = new ToolCatalog(createSupervisorConnector(config({ url: `http://127.0.0.1:${closed}/RPC2` })));
    expect(await errorOf(refused.get('supervisor.stop').execute({ process: 'web' }, context()))).toMatchObject({ code: 'TOOL_FAILED', systemStatus: 'ECONNREFUSED', retryable: true, outcomeUnknown: false });
  });

  it('answers an invalid response with a failure, outcome unknown for a write', async () => {
    const catalog = connect();
    reply('supervisor.getProcessInfo', ['web:web'], recorded('get-process-info-stopped'));
    reply('supervisor.startProcess', ['web:web', true], '<html>proxy error</html>');
    expect(await errorOf(catalog.get('supervisor.start').execute({ process: 'web' }, context()))).toMatchObject({ code: 'TOOL_FAILED', retryable: false, outcomeUnknown: true });
  });

  it('says a restart it has no record of is of unknown outcome', async () => {
    const catalog = connect();
    const probe = await catalog.get('supervisor.restart').probe!({ tool: 'supervisor.restart', args: { process: 'web' }, idempotencyKey: 'm:other' }, new AbortController().signal);
    expect(probe).toMatchObject({ state: 'unknown' });
  });
});
