// The changes connector against real things: Git repositories this test creates with commits at set
// times (GIT_AUTHOR_DATE / GIT_COMMITTER_DATE), run through the machine's `git`, and a deploy log file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangesConnector, type ChangesConnectorOptions } from '../../src/connectors/changes/index.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { callTool } from '../support/connectors.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (minutes: number): number => T0 + minutes * 60_000;

let root: string;
let deployRepo: string;
let configRepo: string;
let deployLog: string;
const hashes: Record<string, string> = {};

/** Runs git in `repo` with the author and committer dates at `minutes` after T0. */
function git(repo: string, args: string[], minutes = 0): string {
  const date = `@${Math.floor(at(minutes) / 1000)} +0000`;
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_AUTHOR_NAME: 'Dana Deployer', GIT_AUTHOR_EMAIL: 'dana@example.com', GIT_COMMITTER_NAME: 'Dana Deployer', GIT_COMMITTER_EMAIL: 'dana@example.com' },
  }).trim();
}

function commit(repo: string, minutes: number, subject: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  git(repo, ['add', '--all'], minutes);
  git(repo, ['commit', '--quiet', '-m', subject], minutes);
  return git(repo, ['rev-parse', 'HEAD']);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'changes-int-'));
  deployRepo = join(root, 'deploy');
  configRepo = join(root, 'config');
  for (const repo of [deployRepo, configRepo]) {
    mkdirSync(repo);
    git(repo, ['init', '--quiet', '--initial-branch=main']);
  }
  hashes.initial = commit(deployRepo, -120, 'initial manifests', { 'deploy/checkout/deployment.yaml': 'replicas: 2\n', 'deploy/payments/deployment.yaml': 'replicas: 2\n' });
  hashes.pool = commit(deployRepo, -20, 'checkout: raise db pool to 50', { 'deploy/checkout/deployment.yaml': 'replicas: 2\npool: 50\n' });
  hashes.deployment = commit(deployRepo, -15, 'deployment tooling', { 'deployment/README.md': 'tooling\n', 'notes/a file with spaces.txt': 'x\n' });
  // A pull request merged with a merge commit: its branch commit is older than the merge.
  git(deployRepo, ['checkout', '--quiet', '-b', 'feature'], -12);
  hashes.branch = commit(deployRepo, -12, 'payments: new timeout', { 'deploy/payments/deployment.yaml': 'replicas: 2\ntimeout: 5s\n' });
  git(deployRepo, ['checkout', '--quiet', 'main'], -5);
  git(deployRepo, ['merge', '--quiet', '--no-ff', 'feature', '-m', 'Merge pull request #7 from feature'], -5);
  hashes.merge = git(deployRepo, ['rev-parse', 'HEAD']);
  hashes.later = commit(deployRepo, 30, 'checkout: scale to 4', { 'deploy/checkout/deployment.yaml': 'replicas: 4\npool: 50\n' });
  hashes.flags = commit(configRepo, -8, 'flags: enable new-cart for 50%', { 'flags.yaml': 'new-cart: 50\n' });

  deployLog = join(root, 'deploys.jsonl');
  writeFileSync(deployLog, [
    { at: '2024-05-01T08:00:00Z', service: 'checkout', version: '1.4.0', kind: 'deploy', by: 'ci' },
    { at: '2024-05-01T09:50:00Z', service: 'checkout', version: '1.4.1', previous: '1.4.0', kind: 'deploy', by: 'ci', environment: 'prod' },
    { at: at(-3), service: 'payments', release: 'r88', previous: 'r87', kind: 'config', by: 'alice', description: 'timeout 5s' },
  ].map((record) => JSON.stringify(record)).join('\n') + '\n{"at":"2024-05-01T10:01:00Z","service":"check');
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function catalogFor(overrides: Partial<ChangesConnectorOptions> = {}): ToolCatalog {
  const catalog = new ToolCatalog(createChangesConnector({
    git: [{ name: 'deploy', path: deployRepo, ref: 'main' }, { name: 'config', path: configRepo, ref: 'HEAD', service: 'checkout' }],
    deployLog,
    maxChanges: 100,
    maxRangeMs: 7 * 24 * 60 * 60 * 1000,
    maxReadBytes: 1_048_576,
    now: () => at(60),
    ...overrides,
  }));
  catalog.check();
  return catalog;
}

describe('changes.git over real repositories', () => {
  it('lists the commits that landed in the window, oldest first, a merge as one change with the paths it brought in', async () => {
    const result = await callTool(catalogFor(), 'changes.git', { since: at(-30), until: at(0), repos: ['deploy'] });
    expect(result.commits.map((c: any) => c.subject)).toEqual(['checkout: raise db pool to 50', 'deployment tooling', 'Merge pull request #7 from feature']);
    expect(result.commits[0]).toEqual({
      repo: 'deploy', service: null, hash: hashes.pool, merge: false, author: 'Dana Deployer', authorEmail: 'dana@example.com',
      authoredAt: '2024-05-01T09:40:00.000Z', committedAt: '2024-05-01T09:40:00.000Z', subject: 'checkout: raise db pool to 50',
      paths: ['deploy/checkout/deployment.yaml'], pathCount: 1,
    });
    expect(result.commits[2]).toMatchObject({ hash: hashes.merge, merge: true, paths: ['deploy/payments/deployment.yaml'] });
    expect(result.commits[1].paths).toEqual(['deployment/README.md', 'notes/a file with spaces.txt']);
    expect(result.truncated).toBe(false);
  });

  it('filters by path prefix on whole segments, literally', async () => {
    const catalog = catalogFor();
    const deploy = await callTool(catalog, 'changes.git', { since: at(-30), until: at(0), repos: ['deploy'], paths: ['deploy'] });
    expect(deploy.commits.map((c: any) => c.hash)).toEqual([hashes.pool, hashes.merge]);
    const spaced = await callTool(catalog, 'changes.git', { since: at(-30), until: at(0), paths: ['notes/a file with spaces.txt'] });
    expect(spaced.commits.map((c: any) => c.hash)).toEqual([hashes.deployment]);
    const glob = await callTool(catalog, 'changes.git', { since: at(-200), until: at(60), paths: ['deploy/*'] });
    expect(glob.commits).toEqual([]);
  });

  it('keeps the newest commits when there are more than limit, and says so', async () => {
    const result = await callTool(catalogFor(), 'changes.git', { since: at(-200), until: at(60), repos: ['deploy'], limit: 2 });
    expect(result.commits.map((c: any) => c.hash)).toEqual([hashes.merge, hashes.later]);
    expect(result.truncated).toBe(true);
    expect(result.notes.join(' ')).toMatch(/newest 2/);
  });

  it('reports a directory that is not a repository, and a missing branch, with Git\'s own words', async () => {
    const notRepo = catalogFor({ git: [{ name: 'nope', path: root, ref: 'HEAD' }] });
    const error = await callTool(notRepo, 'changes.git', { since: at(-30) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'git', retryable: false });
    expect((error as Error).message).toMatch(/not a git repository/i);
    const noBranch = catalogFor({ git: [{ name: 'deploy', path: deployRepo, ref: 'production' }] });
    const missing = await callTool(noBranch, 'changes.git', { since: at(-30) }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/production/);
  });
});

describe('changes.deploys and changes.list over a real deploy log', () => {
  it('reads the deploy records of the window, skipping the line being written', async () => {
    const result = await callTool(catalogFor(), 'changes.deploys', { since: at(-60), until: at(0) });
    expect(result.deploys).toEqual([
      { at: '2024-05-01T09:50:00.000Z', service: 'checkout', version: '1.4.1', kind: 'deploy', by: 'ci', previous: '1.4.0', environment: 'prod', description: null, ref: null },
      { at: '2024-05-01T09:57:00.000Z', service: 'payments', version: 'r88', kind: 'config', by: 'alice', previous: 'r87', environment: null, description: 'timeout 5s', ref: null },
    ]);
    expect(result.notes).toContain('The last line of the deploy log is incomplete (being written) and was skipped.');
    const configOnly = await callTool(catalogFor(), 'changes.deploys', { since: at(-60), until: at(0), kinds: ['config'] });
    expect(configOnly.deploys.map((d: any) => d.version)).toEqual(['r88']);
  });

  it('merges commits and deploy records into one list sorted by time, each with source, service, summary and ref', async () => {
    const result = await callTool(catalogFor(), 'changes.list', { since: at(-30), until: at(0) });
    expect(result.changes.map((c: any) => [c.at.slice(11, 16), c.source, c.kind, c.service, c.ref])).toEqual([
      ['09:40', 'git:deploy', 'commit', null, hashes.pool],
      ['09:45', 'git:deploy', 'commit', null, hashes.deployment],
      ['09:50', 'deploy-log', 'deploy', 'checkout', '1.4.1'],
      ['09:52', 'git:config', 'commit', 'checkout', hashes.flags],
      ['09:55', 'git:deploy', 'commit', null, hashes.merge],
      ['09:57', 'deploy-log', 'config', 'payments', 'r88'],
    ]);
    expect(result.changes[0].summary).toBe('checkout: raise db pool to 50 (Dana Deployer; 1 path: deploy/checkout/deployment.yaml)');
    expect(result.changes[2].summary).toBe('deploy checkout 1.4.0 → 1.4.1 by ci in prod');
    expect(result.sourceErrors).toEqual([]);
  });

  it('narrows to one service: its deploy records and the repositories of that service or of none', async () => {
    const result = await callTool(catalogFor(), 'changes.list', { since: at(-30), until: at(0), service: 'payments' });
    expect(result.changes.map((c: any) => c.source)).toEqual(['git:deploy', 'git:deploy', 'git:deploy', 'deploy-log']);
  });

  it('returns the other sources when one cannot be read, naming the one that failed', async () => {
    const result = await callTool(catalogFor({ deployLog: join(root, 'missing.jsonl') }), 'changes.list', { since: at(-30), until: at(0) });
    expect(result.changes.length).toBe(4);
    expect(result.sourceErrors).toEqual([{ source: 'deploy-log', code: 'TOOL_FAILED', message: expect.stringMatching(/does not exist/) as unknown }]);
  });
});
