// Unit tests of the releases connector's contracts and refusals: everything here is refused before
// supervisord is asked anything (the client stand-in fails the test when called).
// test/connectors/releases.int.test.ts deploys for real under supervisord with git.
import { mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { ToolContext } from '../../core/tools/tool.js';
import type { SupervisorClient } from '../supervisor/supervisor-client.js';
import { ReleasesConfigSchema, type ReleasesConfig } from './releases-config.js';
import { createReleasesConnector } from './releases-connector.js';

let root: string;
const context = (key = 'm:s1'): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: 's1', attempt: 1, signal: new AbortController().signal });

/** A supervisord client that must not be called: every refusal here comes before any request. */
const untouchable: SupervisorClient = {
  getProcessInfo: () => Promise.reject(new Error('supervisord was asked for a process')),
  getAllProcessInfo: () => Promise.reject(new Error('supervisord was asked for all processes')),
  startProcess: () => Promise.reject(new Error('supervisord was asked to start a process')),
  stopProcess: () => Promise.reject(new Error('supervisord was asked to stop a process')),
};

function config(overrides: Record<string, unknown> = {}): ReleasesConfig {
  return ReleasesConfigSchema.parse({
    enabled: true, root, deployLog: join(root, 'deploys.jsonl'),
    services: [
      { name: 'web', processes: ['web'], tier: 'critical', risk: 'write-prod' },
      { name: 'api', processes: ['api_00', 'apis:api_01'] },
    ],
    ...overrides,
  });
}

function catalog(): ToolCatalog {
  const tools = new ToolCatalog(createReleasesConnector(config(), { supervisor: untouchable }));
  tools.check();
  return tools;
}

async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'releases-connector-'));
  for (const version of ['v1', 'v2']) {
    await mkdir(join(root, 'web', version), { recursive: true });
    await writeFile(join(root, 'web', version, 'release.json'), JSON.stringify({ service: 'web', version }));
  }
  await symlink('v1', join(root, 'web', 'current'));
  await mkdir(join(root, 'api', 'r1'), { recursive: true });
  await writeFile(join(root, 'api', 'r1', 'release.json'), JSON.stringify({ service: 'api', version: 'r1' }));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('releases connector contracts', () => {
  it('takes the highest risk of the services for the writes, puts service, tier and own risk in the target, and describes itself as JSON Schema', () => {
    const tools = catalog();
    expect(tools.get('releases.list').risk).toBe('read');
    expect(tools.get('releases.deploy').risk).toBe('write-prod');
    expect(tools.get('releases.rollback').risk).toBe('write-prod');
    expect(tools.get('releases.deploy').target!({ service: 'web', version: 'v2' })).toEqual({ service: 'web', tier: 'critical', labels: { system: 'releases', risk: 'write-prod', version: 'v2' } });
    expect(tools.get('releases.rollback').target!({ service: 'api' })).toEqual({ service: 'api', tier: null, labels: { system: 'releases', risk: 'write-low' } });
    expect(tools.describe().map((t) => [t.name, t.compensation, t.idempotent])).toEqual([
      ['releases.deploy', 'releases.deploy', true],
      ['releases.list', null, true],
      ['releases.rollback', 'releases.deploy', true],
    ]);
    const low = createReleasesConnector(config({ services: [{ name: 'web', processes: ['web'] }] }), { supervisor: untouchable });
    expect(low.find((t) => t.name === 'releases.deploy')!.risk).toBe('write-low');
  });

  it('names the field of every bad argument before any I/O', () => {
    const tools = catalog();
    const issues = (tool: string, args: unknown): string[] => {
      const checked = tools.validateArgs(tool, args, 'steps.0');
      return checked.ok ? [] : checked.issues.map((issue) => issue.path);
    };
    expect(issues('releases.deploy', { service: 'web', version: 'v2' })).toEqual([]);
    expect(issues('releases.deploy', { service: 'payments', version: 'v2' })).toEqual(['steps.0.args.service']);
    for (const version of ['../v1', 'a/b', '..', 'current', '', '-v']) expect(issues('releases.deploy', { service: 'web', version }), version).toEqual(['steps.0.args.version']);
    expect(issues('releases.deploy', { service: 'web', version: 'v2', force: true })).toHaveLength(1);
    expect(issues('releases.rollback', { service: 'web' })).toEqual([]);
    expect(issues('releases.rollback', { service: 'web', to: '/etc' })).toEqual(['steps.0.args.to']);
    expect(issues('releases.list', { service: 'web', limit: 101 })).toEqual(['steps.0.args.limit']);
  });

  it('undoes a deploy with a deploy back to the previous version, and a call that changed nothing with nothing', () => {
    const tools = catalog();
    const result = { service: 'web', version: 'v2', previous: 'v1', kind: 'deploy', changed: true, ref: null, at: 0, restarted: [] };
    expect(tools.get('releases.deploy').compensation!.args({ service: 'web', version: 'v2' }, result)).toEqual({ service: 'web', version: 'v1', compensates: { tool: 'releases.deploy', changed: true } });
    expect(tools.get('releases.rollback').compensation!.args({ service: 'web' }, { ...result, version: 'v1', previous: 'v2', changed: false })).toEqual({ service: 'web', version: 'v2', compensates: { tool: 'releases.rollback', changed: false } });
  });
});

describe('releases connector refusals', () => {
  it('refuses a version that does not exist, naming the field, and changes nothing', async () => {
    const error = await failure(catalog().get('releases.deploy').execute({ service: 'web', version: 'v9' }, context()));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, system: 'releases', details: { field: 'version' } });
    expect(error.message).toMatch(/^version: service web has no version v9/);
    expect(await readlink(join(root, 'web', 'current'))).toBe('v1');
    const to = await failure(catalog().get('releases.rollback').execute({ service: 'web', to: 'v9' }, context()));
    expect(to).toMatchObject({ details: { field: 'to' } });
  });

  it('refuses to deploy a service that has no current release yet', async () => {
    const error = await failure(catalog().get('releases.deploy').execute({ service: 'api', version: 'r1' }, context()));
    expect(error).toMatchObject({ details: { field: 'service' } });
    expect(error.message).toContain('api has no current release');
  });

  it('refuses a rollback the deploy log cannot explain, asking for to', async () => {
    const error = await failure(catalog().get('releases.rollback').execute({ service: 'web' }, context()));
    expect(error).toMatchObject({ details: { field: 'to' } });
    expect(error.message).toMatch(/no version to roll web back to from v1: the deploy log .* does not exist yet; name the version with to/);
  });

  it('a compensation of a call that changed nothing does nothing', async () => {
    const result = await catalog().get('releases.deploy').execute({ service: 'web', version: 'v2', compensates: { tool: 'releases.deploy', changed: false } }, context());
    expect(result).toMatchObject({ service: 'web', version: 'v1', changed: false, restarted: [] });
    expect(await readlink(join(root, 'web', 'current'))).toBe('v1');
  });

  it('will not start without root and deployLog', () => {
    const parsed = ReleasesConfigSchema.parse({ services: [{ name: 'web', processes: ['web'] }] });
    expect(() => createReleasesConnector(parsed, { supervisor: untouchable })).toThrow(ConfigError);
  });
});
