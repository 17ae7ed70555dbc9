// The nginx connector against the real nginx from Debian: weights set through the generated include
// file, tested with `nginx -t`, reloaded, and observed where the traffic goes.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNginxConnector } from '../../src/connectors/nginx/index.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import type { AnyToolContract, ToolContext } from '../../src/core/tools/tool.js';
import { nginxSkipReason, servedBy, startNamedBackend, startNginx, waitUntilServedOnlyBy, type NamedBackend, type RunningNginx } from '../support/nginx.js';

const skip = nginxSkipReason();

const context = (key: string): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: key, attempt: 1, signal: new AbortController().signal });

/** Runs the tool's verification as the engine does: checks every intervalMs until one passes or its timeout. */
async function verify(tool: AnyToolContract, args: unknown, key: string, result: unknown): Promise<string> {
  const probe = tool.verification!;
  const deadline = Date.now() + (probe.timeoutMs ?? 60_000);
  let observed = '';
  while (Date.now() < deadline) {
    const check = await probe.check({ tool: tool.name, args, idempotencyKey: key }, result, new AbortController().signal);
    if (check.ok) return check.observed;
    observed = check.observed;
    await new Promise((resolve) => setTimeout(resolve, probe.intervalMs ?? 1000));
  }
  throw new Error(`verification did not pass: ${observed}`);
}

describe.skipIf(skip !== undefined)(`nginx connector against the real nginx${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  let a: NamedBackend;
  let b: NamedBackend;
  let nginx: RunningNginx;
  let catalog: ToolCatalog;

  beforeAll(async () => {
    a = await startNamedBackend('a');
    b = await startNamedBackend('b');
    nginx = await startNginx({ upstreams: [{ name: 'web', servers: [a.address, b.address] }] });
    catalog = new ToolCatalog(createNginxConnector({
      binary: nginx.binary, mainConfig: nginx.mainConfig, confDir: nginx.confDir, pidFile: nginx.pidFile, timeoutMs: 10_000,
      upstreams: [{ name: 'web', servers: [{ address: a.address }, { address: b.address }], service: 'checkout', tier: 'gold', risk: 'write-low' }],
    }));
    catalog.check();
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await a?.close();
    await b?.close();
  });

  const call = async (tool: string, args: unknown, key: string): Promise<any> => {
    const checked = catalog.validateArgs(tool, args, 'steps.0');
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    return catalog.get(tool).execute(checked.args, context(key));
  };

  it('shifts all traffic to one backend, then the other, verified; the compensation puts the previous weights back', async () => {
    await expect(servedBy(nginx.url, 10)).resolves.toEqual(expect.arrayContaining(['a', 'b']));
    const setWeights = catalog.get('nginx.set_weights');

    const toA = { upstream: 'web', weights: [{ address: a.address, weight: 100 }, { address: b.address, weight: 0 }] };
    const first = await call('nginx.set_weights', toA, 'm:s1');
    expect(first).toMatchObject({ upstream: 'web', servers: [{ address: a.address, weight: 100 }, { address: b.address, weight: 0 }], previous: [{ address: a.address, weight: 1 }, { address: b.address, weight: 1 }], shiftPercent: 50 });
    expect(await verify(setWeights, toA, 'm:s1', first)).toMatch(/new|started after the reload/);
    await waitUntilServedOnlyBy(nginx.url, 'a');
    expect(await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8')).toContain(`server ${b.address} down;`);
    // The check fails when the file does not hold what the call wrote.
    expect(await setWeights.verification!.check({ tool: setWeights.name, args: toA, idempotencyKey: 'm:s1' }, { ...first, sha256: '0'.repeat(64) }, new AbortController().signal)).toMatchObject({ ok: false });

    const toB = { upstream: 'web', weights: [{ address: a.address, weight: 0 }, { address: b.address, weight: 100 }] };
    const second = await call('nginx.set_weights', toB, 'm:s2');
    expect(second.shiftPercent).toBe(100);
    await verify(setWeights, toB, 'm:s2', second);
    await waitUntilServedOnlyBy(nginx.url, 'b');
    expect(await setWeights.probe!({ tool: 'nginx.set_weights', args: toB, idempotencyKey: 'm:s2' }, new AbortController().signal)).toMatchObject({ state: 'applied', result: { sha256: second.sha256 } });
    expect(await setWeights.probe!({ tool: 'nginx.set_weights', args: toB, idempotencyKey: 'm:never-ran' }, new AbortController().signal)).toEqual({ state: 'not_applied' });

    // The same call again (a retry of the same idempotency key) keeps the weights from before its first attempt.
    const replay = await call('nginx.set_weights', toB, 'm:s2');
    expect(replay.previous).toEqual(first.servers);

    const compensation = setWeights.compensation!;
    const undo = await call(compensation.tool, compensation.args(toB, second), 'm:s2:compensate');
    expect(undo).toMatchObject({ restored: 'weights', servers: first.servers });
    await waitUntilServedOnlyBy(nginx.url, 'a');

    const read = await call('nginx.upstream', { upstream: 'web' }, 'm:r1');
    expect(read).toMatchObject({ upstream: 'web', generated: true, servers: first.servers, nginx: { running: true, configValid: true, configError: null } });
    expect(read.nginx.workers).toBeGreaterThan(0);
  }, 90_000);

  it('refuses unknown servers, unknown upstreams and all-zero weights naming the field, before touching nginx', async () => {
    const before = await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8');
    expect(catalog.validateArgs('nginx.set_weights', { upstream: 'web', weights: [{ address: '127.0.0.1:1', weight: 50 }] }, 'steps.0'))
      .toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.weights.0.address' }] });
    expect(catalog.validateArgs('nginx.set_weights', { upstream: 'web', weights: [{ address: a.address, weight: 0 }, { address: b.address, weight: 0 }] }, 'steps.0'))
      .toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.weights' }] });
    expect(catalog.validateArgs('nginx.set_weights', { upstream: 'api', weights: [{ address: a.address, weight: 1 }] }, 'steps.0'))
      .toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.upstream' }] });
    // Taking the only serving server out (b is already down) is refused when the call runs.
    const error = await catalog.get('nginx.set_weights').execute({ upstream: 'web', weights: [{ address: a.address, weight: 0 }] }, context('m:zero')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, details: { field: 'weights' } });
    expect(await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8')).toBe(before);
    await waitUntilServedOnlyBy(nginx.url, 'a');
  });

  it('leaves the old configuration serving when nginx -t fails, and says what nginx said', async () => {
    const before = await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8');
    const broken = join(nginx.confDir, 'broken.conf');
    await writeFile(broken, 'this is not nginx configuration\n');
    try {
      const error = await call('nginx.set_weights', { upstream: 'web', weights: [{ address: a.address, weight: 0 }, { address: b.address, weight: 100 }] }, 'm:broken').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).message).toMatch(/nginx -t rejected.*broken\.conf/s);
      expect(error).toMatchObject({ retryable: false, outcomeUnknown: false });
      expect(await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8')).toBe(before);
      expect(await servedBy(nginx.url, 20)).toEqual(Array(20).fill('a'));
    } finally {
      await rm(broken, { force: true });
    }
  });

  it('refuses a weight change when nginx is not running, writing nothing', async () => {
    const stopped = createNginxConnector({
      binary: nginx.binary, mainConfig: nginx.mainConfig, confDir: nginx.confDir, pidFile: join(nginx.dir, 'no-such.pid'), timeoutMs: 10_000,
      upstreams: [{ name: 'web', servers: [{ address: a.address }, { address: b.address }], risk: 'write-low' }],
    }).find((t) => t.name === 'nginx.set_weights')!;
    const before = await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8');
    await expect(stopped.execute({ upstream: 'web', weights: [{ address: b.address, weight: 5 }] }, context('m:down'))).rejects.toThrow(/not running/);
    expect(await readFile(join(nginx.confDir, 'upstream-web.conf'), 'utf8')).toBe(before);
  });
});
