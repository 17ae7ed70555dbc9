// Unit tests of the nginx connector's checks and its rollback, with a stand-in for the nginx binary
// (a script that answers `-t` as nginx does); test/connectors/nginx.int.test.ts runs the real nginx.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { ToolContext } from '../../core/tools/tool.js';
import { NginxConfigSchema } from './nginx-config.js';
import { createNginxConnector } from './nginx-connector.js';
import { renderUpstream } from './upstream-file.js';

let dir: string;
let master: ChildProcess;
const context = (key: string): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: 's1', attempt: 1, signal: new AbortController().signal });
const A = '127.0.0.1:8081';
const B = '127.0.0.1:8082';

/** A stand-in nginx whose `-t` fails with nginx's words when `<dir>/invalid` exists. */
async function fakeNginx(): Promise<string> {
  const binary = join(dir, 'nginx');
  await writeFile(binary, [
    '#!/bin/sh',
    `if [ -e '${join(dir, 'invalid')}' ]; then`,
    `  echo 'nginx: [emerg] unknown directive "bogus" in ${join(dir, 'conf.d', 'other.conf')}:1' >&2`,
    `  echo 'nginx: configuration file ${join(dir, 'nginx.conf')} test failed' >&2`,
    '  exit 1',
    'fi',
    'exit 0',
    '',
  ].join('\n'));
  await chmod(binary, 0o755);
  return binary;
}

async function catalogWith(upstream: Record<string, unknown> = {}): Promise<ToolCatalog> {
  const config = NginxConfigSchema.parse({
    enabled: true, binary: await fakeNginx(), mainConfig: join(dir, 'nginx.conf'), confDir: join(dir, 'conf.d'), pidFile: join(dir, 'nginx.pid'),
    upstreams: [{ name: 'web', servers: [{ address: A }, { address: B }], service: 'checkout', ...upstream }],
  });
  const catalog = new ToolCatalog(createNginxConnector(config));
  catalog.check();
  return catalog;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nginx-connector-'));
  // A live process whose pid stands for the nginx master; no test here gets as far as a reload.
  master = spawn('sleep', ['60'], { stdio: 'ignore' });
  await writeFile(join(dir, 'nginx.pid'), `${master.pid}\n`);
});

afterEach(async () => {
  master.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('nginx connector tools', () => {
  it('takes the highest risk of the upstreams for the write tools, and puts the upstream in the target', () => {
    const tools = createNginxConnector({ binary: 'nginx', mainConfig: 'm', confDir: dir, pidFile: 'p', timeoutMs: 1000, upstreams: [
      { name: 'web', servers: [{ address: A }], risk: 'write-low', service: 'checkout', tier: 'gold' },
      { name: 'pay', servers: [{ address: B }], risk: 'write-prod' },
    ] });
    const set = tools.find((t) => t.name === 'nginx.set_weights')!;
    expect(set.risk).toBe('write-prod');
    expect(tools.find((t) => t.name === 'nginx.upstream')!.risk).toBe('read');
    expect(set.target!({ upstream: 'web', weights: [] })).toEqual({ service: 'checkout', tier: 'gold', labels: { upstream: 'web', risk: 'write-low' } });
  });
});

describe('nginx.set_weights', () => {
  it('names the field of every bad argument', async () => {
    const catalog = await catalogWith();
    const issues = (args: unknown): string[] => {
      const checked = catalog.validateArgs('nginx.set_weights', args, 'steps.0');
      return checked.ok ? [] : checked.issues.map((i) => i.path);
    };
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 50 }] })).toEqual([]);
    expect(issues({ upstream: 'api', weights: [{ address: A, weight: 50 }] })).toEqual(['steps.0.args.upstream']);
    expect(issues({ upstream: 'web', weights: [{ address: '10.0.0.9:80', weight: 50 }] })).toEqual(['steps.0.args.weights.0.address']);
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 101 }] })).toEqual(['steps.0.args.weights.0.weight']);
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 1.5 }] })).toEqual(['steps.0.args.weights.0.weight']);
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 5 }, { address: A, weight: 6 }] })).toEqual(['steps.0.args.weights.1.address']);
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 0 }, { address: B, weight: 0 }] })).toEqual(['steps.0.args.weights']);
    expect(issues({ upstream: 'web', weights: [] })).toEqual(['steps.0.args.weights']);
    expect(issues({ upstream: 'web', weights: [{ address: A, weight: 5 }], extra: 1 })).toHaveLength(1);
  });

  it('writes the new file, and when nginx -t fails puts the previous file back and fails with nginx\'s words', async () => {
    const catalog = await catalogWith();
    const file = join(dir, 'conf.d', 'upstream-web.conf');
    await writeFile(join(dir, 'invalid'), '');
    const previous = renderUpstream('web', [{ address: A, weight: 90 }, { address: B, weight: 10 }]);
    await mkdir(join(dir, 'conf.d'), { recursive: true });
    await writeFile(file, previous);
    const error = await catalog.get('nginx.set_weights').execute({ upstream: 'web', weights: [{ address: B, weight: 50 }] }, context('m:s1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).message).toContain('unknown directive "bogus"');
    expect((error as ConnectorError).message).not.toContain('test failed');
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, outcomeUnknown: false, system: 'nginx' });
    expect(await readFile(file, 'utf8')).toBe(previous);
    // No temporary file is left next to the include files.
    expect((await readdir(join(dir, 'conf.d'))).filter((name) => name !== '.interlock')).toEqual(['upstream-web.conf']);
  });

  it('removes its new file again when there was none and nginx -t fails', async () => {
    const catalog = await catalogWith();
    await writeFile(join(dir, 'invalid'), '');
    await expect(catalog.get('nginx.set_weights').execute({ upstream: 'web', weights: [{ address: B, weight: 50 }] }, context('m:s1'))).rejects.toThrow(/nginx -t rejected/);
    await expect(readFile(join(dir, 'conf.d', 'upstream-web.conf'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a shift larger than maxShiftPercent, and weights that leave no server in rotation, before writing', async () => {
    const catalog = await catalogWith({ maxShiftPercent: 20 });
    const set = catalog.get('nginx.set_weights');
    const shift = await set.execute({ upstream: 'web', weights: [{ address: A, weight: 100 }, { address: B, weight: 0 }] }, context('m:s1')).catch((e: unknown) => e);
    expect(shift).toMatchObject({ code: 'TOOL_FAILED', retryable: false, details: { field: 'weights' } });
    expect((shift as Error).message).toMatch(/shift 50 percentage points.*maxShiftPercent 20/);
    await expect(readFile(join(dir, 'conf.d', 'upstream-web.conf'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });

    await mkdir(join(dir, 'conf.d'), { recursive: true });
    const onlyA = renderUpstream('web', [{ address: A, weight: 100 }, { address: B, weight: 0 }]);
    await writeFile(join(dir, 'conf.d', 'upstream-web.conf'), onlyA);
    const none = await set.execute({ upstream: 'web', weights: [{ address: A, weight: 0 }] }, context('m:s2')).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'TOOL_FAILED', details: { field: 'weights' } });
    expect((none as Error).message).toMatch(/every server of upstream web out of rotation/);
    expect(await readFile(join(dir, 'conf.d', 'upstream-web.conf'), 'utf8')).toBe(onlyA);
  });

  it('never overwrites an include file it did not generate', async () => {
    const catalog = await catalogWith();
    await mkdir(join(dir, 'conf.d'), { recursive: true });
    const handWritten = 'upstream web {\n    server 127.0.0.1:8081;\n    keepalive 16;\n}\n';
    await writeFile(join(dir, 'conf.d', 'upstream-web.conf'), handWritten);
    await expect(catalog.get('nginx.set_weights').execute({ upstream: 'web', weights: [{ address: B, weight: 5 }] }, context('m:s1'))).rejects.toThrow(/not generated by Interlock/);
    expect(await readFile(join(dir, 'conf.d', 'upstream-web.conf'), 'utf8')).toBe(handWritten);
  });

  it('refuses to run when the master in the pid file is gone, writing nothing', async () => {
    const catalog = await catalogWith();
    master.kill('SIGKILL');
    await new Promise((resolve) => master.once('exit', resolve));
    await expect(catalog.get('nginx.set_weights').execute({ upstream: 'web', weights: [{ address: B, weight: 5 }] }, context('m:s1'))).rejects.toThrow(/nginx is not running/);
    await expect(readFile(join(dir, 'conf.d', 'upstream-web.conf'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
