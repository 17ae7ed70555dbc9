// The scale connector against a real supervisord and a real nginx (Debian's `supervisor` and
// `nginx-light`): three instances of a service, supervisord programs answering their name, behind one
// nginx upstream; scaling out and in is observed where the traffic goes. Each write runs as the engine
// runs it: the call, its verification until it has held for its window, and (where the test says so)
// its compensation. Nothing is timed: the tests poll with deadlines.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUpstream } from '../../src/connectors/nginx/upstream-file.js';
import { createScaleConnector, ScaleConfigSchema } from '../../src/connectors/scale/index.js';
import { withHttpSecrets } from '../../src/connectors/shared/http-config.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { toolRunner } from '../support/connectors.js';
import { nginxSkipReason, servedBy, startNginx, waitUntilServedOnlyBy, type RunningNginx } from '../support/nginx.js';
import { nodeProgram, startSupervisord, supervisordSkipReason, type RunningSupervisord } from '../support/supervisord.js';

const skip = supervisordSkipReason() ?? nginxSkipReason();
const VERIFY_WINDOW_MS = 1000;
const INSTANCES = ['app-1', 'app-2', 'app-3'] as const;

let supervisord: RunningSupervisord;
let nginx: RunningNginx;
let catalog: ToolCatalog;
const address: Record<string, string> = {};
const { call, compensate, verify } = toolRunner(() => catalog);

/** Polls until `count` requests through nginx reach exactly the backends `names` (each at least once). */
async function untilServedBy(names: readonly string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await servedBy(nginx.url, 30);
    if (new Set(last).size === names.length && names.every((name) => last.includes(name))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`requests did not reach exactly ${names.join(', ')}; last answers: ${last.join(', ')}`);
}

/** Sends requests through nginx one after another while `work` runs; returns its result and every answer. */
async function trafficDuring<T>(work: () => Promise<T>): Promise<{ result: T; answers: string[] }> {
  let finished = false;
  const answers: string[] = [];
  const load = (async () => {
    while (!finished) answers.push(...(await servedBy(nginx.url, 1).catch((error: unknown) => [`error:${String(error)}`])));
  })();
  try {
    return { result: await work(), answers };
  } finally {
    finished = true;
    await load;
  }
}

describe.skipIf(skip !== undefined)(`scale connector against supervisord and nginx${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    const ports: Record<string, number> = {};
    for (const name of INSTANCES) {
      ports[name] = await getPort({ host: '127.0.0.1' });
      address[name] = `127.0.0.1:${ports[name]}`;
    }
    supervisord = await startSupervisord(async (dir) => ({
      programs: await Promise.all(INSTANCES.map(async (name, index) => ({
        name,
        autostart: index === 0,
        command: await nodeProgram(dir, name, [
          "const http = require('node:http');",
          `const server = http.createServer((req, res) => res.end(${JSON.stringify(name)})).listen(${ports[name]}, '127.0.0.1');`,
          "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
        ].join('\n')),
      }))),
    }));
    nginx = await startNginx({ upstreams: [{ name: 'app', servers: INSTANCES.map((name) => address[name]!) }] });
    // The estate's starting point: only the running instance is in the upstream's rotation.
    await writeFile(join(nginx.confDir, 'upstream-app.conf'), renderUpstream('app', INSTANCES.map((name, index) => ({ address: address[name]!, weight: index === 0 ? 1 : 0 }))));
    process.kill(Number((await readFile(nginx.pidFile, 'utf8')).trim()), 'SIGHUP');
    await waitUntilServedOnlyBy(nginx.url, 'app-1');

    const parsed = ScaleConfigSchema.parse({
      enabled: true,
      supervisor: { url: supervisord.url, basicAuth: { username: supervisord.username, passwordEnv: 'SUPERVISOR_PASSWORD' }, timeoutMs: 20_000 },
      nginx: { binary: nginx.binary, mainConfig: nginx.mainConfig, confDir: nginx.confDir, pidFile: nginx.pidFile },
      verifyWindowMs: VERIFY_WINDOW_MS,
      services: [{
        name: 'catalog', tier: 'standard', upstream: 'app', minInstances: 1, maxInstances: 2,
        instances: INSTANCES.map((name) => ({ process: name, address: address[name], weight: 1 })),
      }],
    });
    catalog = new ToolCatalog(createScaleConnector({ ...parsed, supervisor: withHttpSecrets(parsed.supervisor, { SUPERVISOR_PASSWORD: supervisord.password }) }));
    catalog.check();
    // supervisord counts app-1 as started after startsecs, a while after it already answers.
    const deadline = Date.now() + 20_000;
    while ((await call('scale.status', { service: 'catalog' })).inService !== 1) {
      if (Date.now() > deadline) throw new Error(`app-1 did not come up:\n${supervisord.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 90_000);

  afterAll(async () => {
    await nginx?.stop();
    await supervisord?.stop();
  }, 30_000);

  it('reports each instance: process state, weight, in service', async () => {
    const status = await call('scale.status', { service: 'catalog' });
    expect(status).toMatchObject({ service: 'catalog', upstream: 'app', generated: true, minInstances: 1, maxInstances: 2, inService: 1, nginx: { running: true, configValid: true } });
    expect(status.instances.map((i: { process: string; state: string; weight: number; inService: boolean }) => [i.process, i.state, i.weight, i.inService])).toEqual([
      ['app-1', 'RUNNING', 1, true],
      ['app-2', 'STOPPED', 0, false],
      ['app-3', 'STOPPED', 0, false],
    ]);
  });

  it('scales out: the next instance starts, joins the upstream and gets traffic; verified; once per key; refused beyond maxInstances', async () => {
    const out = catalog.get('scale.out');
    const { result, answers } = await trafficDuring(() => call('scale.out', { service: 'catalog' }, 'm:out-1'));
    expect(answers.filter((answer) => answer !== 'app-1' && answer !== 'app-2')).toEqual([]);
    expect(result).toMatchObject({ service: 'catalog', instance: 'app-2', address: address['app-2'], changed: true, weight: 1, state: 'RUNNING', inService: 2 });
    expect(result.pid).toBeGreaterThan(0);
    expect(await verify(out, { service: 'catalog' }, result)).toMatchObject({ ok: true, observed: expect.stringContaining(`app-2 is RUNNING (pid ${result.pid}) and upstream-app.conf gives ${address['app-2']} weight 1`) });
    await untilServedBy(['app-1', 'app-2']);

    // The same call again (a retry after a crash) does not start a third instance.
    const again = await call('scale.out', { service: 'catalog' }, 'm:out-1');
    expect(again).toMatchObject({ instance: 'app-2', pid: result.pid, inService: 2 });
    const beyond = await call('scale.out', { service: 'catalog' }).catch((e: unknown) => e);
    expect(beyond).toBeInstanceOf(ConnectorError);
    expect(beyond).toMatchObject({ retryable: false, details: { field: 'service' }, message: expect.stringContaining('catalog has 2 instance(s) in service, its maxInstances 2') });
    expect(await call('scale.out', { service: 'catalog', instance: 'app-2' })).toMatchObject({ changed: false, instance: 'app-2' });
    expect((await call('scale.status', { service: 'catalog' })).instances[2]).toMatchObject({ process: 'app-3', state: 'STOPPED' });
  }, 60_000);

  it('scales in: the last instance leaves the upstream, then stops; traffic back on one; refused below minInstances', async () => {
    const scaleIn = catalog.get('scale.in');
    const { result, answers } = await trafficDuring(() => call('scale.in', { service: 'catalog' }));
    // Every request during the call succeeded: nginx stopped sending to app-2 before it stopped.
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((answer) => answer !== 'app-1' && answer !== 'app-2')).toEqual([]);
    expect(result).toMatchObject({ instance: 'app-2', changed: true, weight: 0, state: 'STOPPED', pid: null, inService: 1 });
    expect(await verify(scaleIn, { service: 'catalog' }, result)).toMatchObject({ ok: true, observed: expect.stringContaining(`app-2 is STOPPED and upstream-app.conf gives ${address['app-2']} down`) });
    await waitUntilServedOnlyBy(nginx.url, 'app-1');

    const below = await call('scale.in', { service: 'catalog' }).catch((e: unknown) => e);
    expect(below).toBeInstanceOf(ConnectorError);
    expect(below).toMatchObject({ details: { field: 'service' }, message: expect.stringContaining('catalog has 1 instance(s) in service and minInstances 1') });
    expect(await call('scale.in', { service: 'catalog', instance: 'app-3' })).toMatchObject({ changed: false, instance: 'app-3' });

    // The compensation of the scale.in puts app-2 back; the compensation of that takes it out again.
    const back = await compensate('scale.in', { service: 'catalog' }, result);
    expect(back).toMatchObject({ instance: 'app-2', changed: true, state: 'RUNNING', weight: 1 });
    expect(await verify(catalog.get('scale.out'), { service: 'catalog', instance: 'app-2' }, back)).toMatchObject({ ok: true });
    await untilServedBy(['app-1', 'app-2']);
    const out = await compensate('scale.out', { service: 'catalog', instance: 'app-2' }, back);
    expect(out).toMatchObject({ instance: 'app-2', changed: true, state: 'STOPPED', weight: 0 });
    await waitUntilServedOnlyBy(nginx.url, 'app-1');
    // A no-op's compensation does nothing.
    expect(await compensate('scale.in', { service: 'catalog' }, { ...result, changed: false })).toMatchObject({ changed: false, state: 'STOPPED' });
  }, 90_000);

  it('fails the verification when the instance is not where the call left it', async () => {
    const out = catalog.get('scale.out');
    const check = await out.verification!.check({ tool: out.name, args: { service: 'catalog' }, idempotencyKey: 'm:v' }, { service: 'catalog', instance: 'app-2', address: address['app-2'], changed: true, weight: 1, state: 'RUNNING', pid: 1, inService: 2, upstream: null }, new AbortController().signal);
    expect(check).toEqual({ ok: false, observed: `app-2 is STOPPED and upstream-app.conf gives ${address['app-2']} down; expected RUNNING with pid 1 at weight 1` });
  });
});
