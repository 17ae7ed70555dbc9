// The releases connector against a real supervisord (Debian's `supervisor` package, started by
// test/support/supervisord.ts) and the machine's `git`: two services whose programs run
// `<root>/<service>/current/server.cjs`, a tiny Node.js server answering the version of its release.
// Each write runs as the engine runs it: the call, then its verification until it has held for its
// window, then (where the test says so) its compensation. Nothing is timed: the tests poll with deadlines.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeployLine } from '../../src/connectors/changes/deploy-log.js';
import { createReleasesConnector, ReleasesConfigSchema } from '../../src/connectors/releases/index.js';
import { withHttpSecrets } from '../../src/connectors/shared/http-config.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { toolRunner } from '../support/connectors.js';
import { startSupervisord, supervisordSkipReason, type RunningSupervisord } from '../support/supervisord.js';

const skip = supervisordSkipReason();
const VERIFY_WINDOW_MS = 1000;

/** A release's program: answers `{"version": …}` from the release.json beside it (symlinks resolved). */
const SERVER = [
  "const http = require('node:http');",
  "const { version } = require('./release.json');",
  'const server = http.createServer((req, res) => {',
  "  res.setHeader('content-type', 'application/json');",
  '  res.end(JSON.stringify({ version, pid: process.pid }));',
  "}).listen(Number(process.argv[2]), '127.0.0.1');",
  "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
].join('\n');
/** A release whose program dies at once: it never reaches RUNNING. */
const CRASHING = "console.error('missing configuration'); process.exit(1);";

let work: string;
let root: string;
let gitDir: string;
let deployLog: string;
let supervisord: RunningSupervisord;
let catalog: ToolCatalog;
const ports: Record<string, number> = {};
const { call, compensate, verify } = toolRunner(() => catalog);

/** The version service `name` answers over HTTP, or the connection error code. */
async function served(name: string): Promise<string> {
  try {
    return ((await (await fetch(`http://127.0.0.1:${ports[name]}/`, { signal: AbortSignal.timeout(2000) })).json()) as { version: string }).version;
  } catch (error) {
    return String((error as { cause?: { code?: string } }).cause?.code ?? error);
  }
}

function git(args: string[]): string {
  return execFileSync('git', ['-C', gitDir, ...args], { encoding: 'utf8' }).trim();
}

/** The deploy log's records, oldest first. */
async function records(): Promise<any[]> {
  const text = await readFile(deployLog, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '').map((line) => {
    const parsed = parseDeployLine(line);
    if (!parsed.ok) throw new Error(`invalid deploy record ${line}: ${parsed.reason}`);
    return { ...parsed.record, line };
  });
}

async function release(service: string, version: string, program: string): Promise<void> {
  await mkdir(join(root, service, version), { recursive: true });
  await writeFile(join(root, service, version, 'release.json'), JSON.stringify({ service, version, builtAt: '2026-03-01' }));
  await writeFile(join(root, service, version, 'server.cjs'), program);
}

describe.skipIf(skip !== undefined)(`releases connector against supervisord and git${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'interlock-releases-'));
    root = join(work, 'releases');
    gitDir = join(work, 'deployments');
    deployLog = join(work, 'logs', 'deploys.jsonl');
    await release('web', 'v1', SERVER);
    await release('web', 'v2', SERVER);
    await release('flaky', 'v1', SERVER);
    await release('flaky', 'v2', CRASHING);
    await symlink('v1', join(root, 'web', 'current'));
    await symlink('v1', join(root, 'flaky', 'current'));
    await mkdir(gitDir);
    execFileSync('git', ['init', '--quiet', gitDir]);
    for (const name of ['web', 'flaky']) ports[name] = await getPort({ host: '127.0.0.1' });
    supervisord = await startSupervisord(() => ({
      programs: ['web', 'flaky'].map((name) => ({ name, command: `${process.execPath} ${join(root, name, 'current', 'server.cjs')} ${ports[name]}` })),
    }));
    const parsed = ReleasesConfigSchema.parse({
      enabled: true, root, deployLog, gitDir,
      author: { name: 'Interlock Test', email: 'interlock@test.invalid' },
      supervisor: { url: supervisord.url, basicAuth: { username: supervisord.username, passwordEnv: 'SUPERVISOR_PASSWORD' }, timeoutMs: 20_000 },
      verifyWindowMs: VERIFY_WINDOW_MS,
      services: [
        { name: 'web', processes: ['web'], tier: 'critical', risk: 'write-prod', healthUrl: `http://127.0.0.1:${ports.web}/` },
        { name: 'flaky', processes: ['flaky'] },
      ],
    });
    catalog = new ToolCatalog(createReleasesConnector({ ...parsed, supervisor: withHttpSecrets(parsed.supervisor, { SUPERVISOR_PASSWORD: supervisord.password }) }));
    catalog.check();
    const deadline = Date.now() + 20_000;
    while ((await served('web')) !== 'v1' || (await served('flaky')) !== 'v1') {
      if (Date.now() > deadline) throw new Error(`the services did not come up:\n${supervisord.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 60_000);

  afterAll(async () => {
    await supervisord?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }, 30_000);

  it('lists the versions with their release.json and the current one', async () => {
    const list = await call('releases.list', { service: 'web' });
    expect(list).toEqual({
      service: 'web',
      current: 'v1',
      versions: [
        { version: 'v1', current: true, release: { service: 'web', version: 'v1', builtAt: '2026-03-01' }, problem: null },
        { version: 'v2', current: false, release: { service: 'web', version: 'v2', builtAt: '2026-03-01' }, problem: null },
      ],
      deploys: [],
    });
  });

  it('deploys v2: current switched, the process restarted on it, health says v2, committed and recorded; verified, once per key', async () => {
    const deploy = catalog.get('releases.deploy');
    const before = await call('releases.list', { service: 'web' });
    const result = await call('releases.deploy', { service: 'web', version: 'v2' }, 'm:deploy-v2');
    expect(result).toMatchObject({ service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', changed: true, restarted: [{ process: 'web' }] });
    expect(result.ref).toMatch(/^[0-9a-f]{40}$/);
    expect(await readlink(join(root, 'web', 'current'))).toBe('v2');
    expect(await served('web')).toBe('v2');

    const check = await verify(deploy, { service: 'web', version: 'v2' }, result);
    expect(check).toEqual({ ok: true, observed: `web runs v2: current points to it, web RUNNING (pid ${result.restarted[0].pid}); http://127.0.0.1:${ports.web}/ reports v2` });

    expect(git(['log', '-1', '--format=%H %s'])).toBe(`${result.ref} web: deploy v2`);
    expect(git(['log', '-1', '--format=%an <%ae>'])).toBe('Interlock Test <interlock@test.invalid>');
    expect(await readFile(join(gitDir, 'web.version'), 'utf8')).toBe('v2\n');
    const log = await records();
    expect(log).toHaveLength(1);
    expect(JSON.parse(log[0].line)).toEqual({ at: new Date(result.at).toISOString(), service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', by: 'interlock:m', ref: result.ref });

    // The same call again (a retry after a crash) finishes nothing twice: no second restart, commit or record.
    const again = await call('releases.deploy', { service: 'web', version: 'v2' }, 'm:deploy-v2');
    expect(again).toEqual(result);
    expect(await records()).toHaveLength(1);
    expect(git(['rev-list', '--count', 'HEAD'])).toBe('1');
    expect(await deploy.probe!({ tool: deploy.name, args: { service: 'web', version: 'v2' }, idempotencyKey: 'm:deploy-v2' }, new AbortController().signal)).toEqual({ state: 'applied', result });
    expect(await deploy.probe!({ tool: deploy.name, args: { service: 'web', version: 'v2' }, idempotencyKey: 'm:never-ran' }, new AbortController().signal)).toEqual({ state: 'not_applied' });

    // A new deploy of the version already running is a no-op, and its compensation does nothing.
    const noop = await call('releases.deploy', { service: 'web', version: 'v2' });
    expect(noop).toMatchObject({ version: 'v2', previous: 'v2', changed: false, ref: null, restarted: [] });
    expect(await compensate('releases.deploy', { service: 'web', version: 'v2' }, noop)).toMatchObject({ changed: false });
    expect(await readlink(join(root, 'web', 'current'))).toBe('v2');

    // The verification fails when the service does not run what the call left.
    expect(await deploy.verification!.check({ tool: deploy.name, args: { service: 'web' }, idempotencyKey: 'm:v' }, { ...result, version: 'v1' }, new AbortController().signal))
      .toMatchObject({ ok: false, observed: "web's current points to v2; expected v1" });
    expect(await deploy.verification!.check({ tool: deploy.name, args: { service: 'web' }, idempotencyKey: 'm:v' }, { ...result, restarted: [{ process: 'web', pid: 1, startedAt: 0 }] }, new AbortController().signal))
      .toMatchObject({ ok: false, observed: expect.stringContaining('it restarted (crashed?) since') });
    expect(before.current).toBe('v1');
  }, 60_000);

  it('rolls back to the version before according to the deploy log; its compensation deploys again; a compensated deploy is recorded as a rollback', async () => {
    const rollback = catalog.get('releases.rollback');
    const back = await call('releases.rollback', { service: 'web' });
    expect(back).toMatchObject({ version: 'v1', previous: 'v2', kind: 'rollback', changed: true });
    expect(await served('web')).toBe('v1');
    expect(await verify(rollback, { service: 'web' }, back)).toMatchObject({ ok: true });
    expect(git(['log', '-1', '--format=%H %s'])).toBe(`${back.ref} web: rollback to v1`);

    // Undoing the rollback deploys v2 again, recorded as a deploy.
    const redo = await compensate('releases.rollback', { service: 'web' }, back);
    expect(redo).toMatchObject({ version: 'v2', previous: 'v1', kind: 'deploy', changed: true });
    expect(await served('web')).toBe('v2');
    expect(await verify(catalog.get('releases.deploy'), { service: 'web' }, redo)).toMatchObject({ ok: true });

    // Undoing that deploy goes back to v1 as a rollback; a later rollback from v1 then has nothing the
    // deploy log can explain (v1 was never deployed by a deploy record), so it asks for `to`.
    const undo = await compensate('releases.deploy', { service: 'web', version: 'v2' }, redo);
    expect(undo).toMatchObject({ version: 'v1', previous: 'v2', kind: 'rollback', changed: true });
    expect(await served('web')).toBe('v1');
    const refused = await call('releases.rollback', { service: 'web' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectorError);
    expect(refused).toMatchObject({ details: { field: 'to' }, message: expect.stringContaining('no version to roll web back to from v1') });

    expect((await records()).map((r) => `${r.kind} ${r.version} ${r.previous}`)).toEqual(['deploy v2 v1', 'rollback v1 v2', 'deploy v2 v1', 'rollback v1 v2']);
    expect((await call('releases.list', { service: 'web', limit: 2 })).deploys.map((d: { kind: string; version: string }) => `${d.kind} ${d.version}`)).toEqual(['rollback v1', 'deploy v2']);
    // Rolling back by name works from anywhere.
    const named = await call('releases.rollback', { service: 'web', to: 'v2' });
    expect(named).toMatchObject({ version: 'v2', previous: 'v1', kind: 'rollback' });
    expect(await served('web')).toBe('v2');
  }, 90_000);

  it('refuses a version that does not exist, naming the field, and an unknown service before any I/O', async () => {
    const missing = await call('releases.deploy', { service: 'web', version: 'v9' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConnectorError);
    expect(missing).toMatchObject({ code: 'TOOL_FAILED', retryable: false, details: { field: 'version' }, message: expect.stringMatching(/^version: service web has no version v9/) });
    await expect(call('releases.rollback', { service: 'web', to: 'v0' })).rejects.toMatchObject({ details: { field: 'to' } });
    expect(catalog.validateArgs('releases.deploy', { service: 'payments', version: 'v1' }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.service' }] });
    expect(catalog.validateArgs('releases.deploy', { service: 'web', version: '../flaky/v1' }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.version' }] });
  });

  it('goes back to the previous release when the new one does not start, and records nothing', async () => {
    const before = (await records()).length;
    const error = await call('releases.deploy', { service: 'flaky', version: 'v2' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, outcomeUnknown: false, details: { revertedTo: 'v1' } });
    expect((error as Error).message).toMatch(/Restarting flaky on v2 failed: .* flaky is back on v1/);
    expect(await readlink(join(root, 'flaky', 'current'))).toBe('v1');
    expect(await served('flaky')).toBe('v1');
    expect(await records()).toHaveLength(before);
    expect(git(['log', '--format=%s'])).not.toContain('flaky');
  }, 90_000);
});
