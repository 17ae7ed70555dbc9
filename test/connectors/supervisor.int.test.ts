// The supervisor connector against a real supervisord (Debian's `supervisor` package), started by
// test/support/supervisord.ts with small Node.js HTTP servers as its programs. Each tool runs as the
// engine runs it: the call, then its verification probe until it has held for its window (or failed),
// then its compensation. Nothing is timed: the tests poll with deadlines.
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSupervisorConnector, SupervisorConfigSchema } from '../../src/connectors/supervisor/index.js';
import type { SupervisorConfig } from '../../src/connectors/supervisor/index.js';
import { withHttpSecrets } from '../../src/connectors/shared/http-config.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { toolRunner } from '../support/connectors.js';
import { httpServerScript, nodeProgram, startSupervisord, supervisordSkipReason, type RunningSupervisord } from '../support/supervisord.js';

const skip = supervisordSkipReason();
const VERIFY_WINDOW_MS = 1500;

let supervisord: RunningSupervisord;
let catalog: ToolCatalog;
const ports: Record<string, number> = {};
const { context, call, verify } = toolRunner(() => catalog);

const connectorConfig = (password: string | undefined): SupervisorConfig => withHttpSecrets(SupervisorConfigSchema.parse({
  enabled: true,
  url: supervisord.url,
  basicAuth: { username: supervisord.username, passwordEnv: 'SUPERVISOR_PASSWORD' },
  timeoutMs: 20_000,
  verifyWindowMs: VERIFY_WINDOW_MS,
  processes: [
    { name: 'web', service: 'checkout', tier: 'prod', risk: 'write-prod' },
    { name: 'idle', service: 'reports' },
    { name: 'flaky', service: 'flaky' },
    { name: 'api', group: 'apps', service: 'api' },
  ],
}), { SUPERVISOR_PASSWORD: password });

/** What the program's HTTP server answers (`ok <pid>`), or the connection error code. */
async function answer(name: string): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${ports[name]}/`, { signal: AbortSignal.timeout(2000) })).text();
  } catch (error) {
    return String((error as { cause?: { code?: string } }).cause?.code ?? error);
  }
}

/** Polls `check` until it is true, failing after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skip !== undefined)(`supervisor connector against supervisord${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    for (const name of ['web', 'idle', 'api']) ports[name] = await getPort({ host: '127.0.0.1' });
    supervisord = await startSupervisord(async (dir) => ({
      programs: [
        { name: 'web', command: await nodeProgram(dir, 'web', httpServerScript(ports.web!)) },
        { name: 'idle', command: await nodeProgram(dir, 'idle', httpServerScript(ports.idle!)), autostart: false },
        { name: 'api', command: await nodeProgram(dir, 'api', httpServerScript(ports.api!)) },
        // Up long enough to count as started (startsecs=1), then crashes and is restarted: a crash loop.
        { name: 'flaky', command: await nodeProgram(dir, 'flaky', 'setTimeout(() => process.exit(3), 1200);'), autorestart: 'true' },
        { name: 'unlisted', command: await nodeProgram(dir, 'unlisted', 'setInterval(() => {}, 1000);') },
      ],
      groups: { apps: ['api'] },
    }));
    catalog = new ToolCatalog(createSupervisorConnector(connectorConfig(supervisord.password)));
    catalog.check();
    await until('web and api running', async () => {
      const { processes } = await call('supervisor.status', {});
      return ['web', 'apps:api'].every((id) => processes.find((p: { process: string }) => p.process === id)?.state === 'RUNNING');
    });
  }, 60_000);

  afterAll(async () => {
    await supervisord?.stop();
  }, 30_000);

  it('reports the configured processes only, with pid, start time and uptime', async () => {
    const { processes, missing } = await call('supervisor.status', {});
    expect(missing).toEqual([]);
    expect(processes.map((p: { process: string }) => p.process)).toEqual(['web', 'idle', 'flaky', 'apps:api']);
    const web = processes[0];
    expect(web).toMatchObject({ name: 'web', group: 'web', state: 'RUNNING', exitStatus: null, spawnError: null });
    expect(await answer('web')).toBe(`ok ${web.pid}`);
    expect(web.startedAt).toBeLessThanOrEqual(Date.now());
    expect(web.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(processes[1]).toMatchObject({ process: 'idle', state: 'STOPPED', pid: null, uptimeMs: null });
    expect((await call('supervisor.status', { process: 'apps:api' })).processes).toMatchObject([{ name: 'api', group: 'apps', state: 'RUNNING' }]);
  });

  it('restarts a process: a new pid, the verification holds, and the probe sees it applied', async () => {
    const restart = catalog.get('supervisor.restart');
    const result = await call('supervisor.restart', { process: 'web' }, 'm:restart-web');
    expect(result).toMatchObject({ process: 'web', changed: true, previous: { state: 'RUNNING' }, current: { state: 'RUNNING' } });
    expect(result.current.pid).not.toBe(result.previous.pid);
    expect(result.current.startedAt).toBeGreaterThanOrEqual(result.previous.startedAt);
    expect(await answer('web')).toBe(`ok ${result.current.pid}`);
    expect(await verify(restart, { process: 'web' }, result)).toMatchObject({ ok: true, observed: `web is RUNNING (pid ${result.current.pid})` });
    const probe = await restart.probe!({ tool: restart.name, args: { process: 'web' }, idempotencyKey: 'm:restart-web' }, new AbortController().signal);
    expect(probe).toMatchObject({ state: 'applied', result: { current: { pid: result.current.pid } } });
    expect(await restart.observe!({ process: 'web' }, new AbortController().signal)).toMatchObject({ state: 'RUNNING', pid: result.current.pid });
  });

  it('restarts a process of a named group', async () => {
    const result = await call('supervisor.restart', { process: 'apps:api' });
    expect(result.current.pid).not.toBe(result.previous.pid);
    expect(await answer('api')).toBe(`ok ${result.current.pid}`);
  });

  it('fails the verification of a restart whose process keeps crashing', async () => {
    const restart = catalog.get('supervisor.restart');
    const result = await call('supervisor.restart', { process: 'flaky' });
    const check = await verify(restart, { process: 'flaky' }, result);
    expect(check.ok).toBe(false);
    expect(check.observed).toContain('expected RUNNING with the new pid');
  }, 60_000);

  it('stops a process idempotently, verifies it stays stopped, and its compensation starts it again', async () => {
    const stop = catalog.get('supervisor.stop');
    const stopped = await call('supervisor.stop', { process: 'web' });
    expect(stopped).toMatchObject({ changed: true, previous: { state: 'RUNNING' }, current: { state: 'STOPPED', pid: null } });
    expect(await answer('web')).toBe('ECONNREFUSED');
    expect(await verify(stop, { process: 'web' }, stopped)).toMatchObject({ ok: true });
    expect(await call('supervisor.stop', { process: 'web' })).toMatchObject({ changed: false, current: { state: 'STOPPED' } });

    const undo = stop.compensation!.args({ process: 'web' }, stopped);
    expect(undo).toEqual({ process: 'web', compensates: { tool: 'supervisor.stop', changed: true } });
    const started = await call(stop.compensation!.tool, undo);
    expect(started).toMatchObject({ changed: true, current: { state: 'RUNNING' } });
    expect(await answer('web')).toBe(`ok ${started.current.pid}`);
  });

  it('starts a stopped process, a running one is left alone, and compensations undo only real changes', async () => {
    const start = catalog.get('supervisor.start');
    const started = await call('supervisor.start', { process: 'idle' });
    expect(started).toMatchObject({ changed: true, previous: { state: 'STOPPED' }, current: { state: 'RUNNING' } });
    expect(await verify(start, { process: 'idle' }, started)).toMatchObject({ ok: true });
    expect(await answer('idle')).toBe(`ok ${started.current.pid}`);

    // A second start changes nothing, so undoing it must not stop the process.
    const again = await call('supervisor.start', { process: 'idle' });
    expect(again).toMatchObject({ changed: false, current: { pid: started.current.pid } });
    expect(await call(start.compensation!.tool, start.compensation!.args({ process: 'idle' }, again))).toMatchObject({ changed: false });
    expect(await answer('idle')).toBe(`ok ${started.current.pid}`);

    // Undoing the real start stops it.
    expect(await call(start.compensation!.tool, start.compensation!.args({ process: 'idle' }, started))).toMatchObject({ changed: true, current: { state: 'STOPPED' } });
    await until('idle refuses connections', async () => (await answer('idle')) === 'ECONNREFUSED');
  });

  it('refuses a process supervisord runs but the configuration does not list', () => {
    expect(catalog.validateArgs('supervisor.stop', { process: 'unlisted' }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.process' }] });
  });

  it('refuses wrong credentials with a non-retryable error', async () => {
    const wrong = new ToolCatalog(createSupervisorConnector(connectorConfig('not-the-password')));
    const error = await wrong.get('supervisor.status').execute({}, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', systemStatus: 401, retryable: false });
  });
});
