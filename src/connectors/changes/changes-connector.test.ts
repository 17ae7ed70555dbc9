import { describe, expect, it } from 'vitest';
import { ToolCatalog } from '../../core/tools/catalog.js';
import { ChangesConfigSchema } from './changes-config.js';
import { createChangesConnector, type ChangesConnectorOptions } from './changes-connector.js';
import { gitLogArguments, parseGitLog } from './git-history.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const options: ChangesConnectorOptions = {
  git: [{ name: 'deploy', path: '/srv/deploy', ref: 'main', service: 'checkout' }, { name: 'config', path: '/srv/config', ref: 'HEAD' }],
  deployLog: '/var/log/deploys.jsonl',
  maxChanges: 100,
  maxRangeMs: 24 * 60 * 60 * 1000,
  maxReadBytes: 1_048_576,
  now: () => NOW,
};

describe('changes connector contract', () => {
  it('offers the Git and deploy-log tools only for the sources that are configured, all read-only', () => {
    expect(createChangesConnector(options).map((tool) => tool.name)).toEqual(['changes.git', 'changes.deploys', 'changes.list']);
    expect(createChangesConnector({ ...options, git: [] }).map((tool) => tool.name)).toEqual(['changes.deploys', 'changes.list']);
    expect(createChangesConnector({ ...options, deployLog: undefined }).map((tool) => tool.name)).toEqual(['changes.git', 'changes.list']);
    expect(createChangesConnector(options).every((tool) => tool.risk === 'read' && tool.idempotent && tool.permission === 'changes:read')).toBe(true);
  });

  it('describes its inputs as JSON Schema, with the configured repositories as an enum', () => {
    const catalog = new ToolCatalog(createChangesConnector(options));
    const git = catalog.describe().find((tool) => tool.name === 'changes.git');
    expect(git?.inputSchema).toMatchObject({ type: 'object', required: ['since'], properties: { repos: { items: { enum: ['deploy', 'config'] } } } });
  });

  it('names each wrong field before any I/O: window, path prefixes, repositories, limit', () => {
    const catalog = new ToolCatalog(createChangesConnector(options));
    const paths = (args: unknown): string[] => {
      const checked = catalog.validateArgs('changes.git', args, 'context.0');
      return checked.ok ? [] : checked.issues.map((issue) => issue.path);
    };
    expect(paths({ since: '2024-05-01T11:00:00Z' })).toEqual([]);
    expect(paths({ since: '2024-05-01T11:00:00Z', until: '2024-05-01T10:00:00Z' })).toEqual(['context.0.args.since']);
    expect(paths({ since: '2024-04-01T00:00:00Z' })).toEqual(['context.0.args.since']);
    expect(paths({ since: 'yesterday' })).toEqual(['context.0.args.since']);
    expect(paths({ since: 1_714_557_600 })).toEqual(['context.0.args.since']); // seconds, not ms
    expect(paths({ since: NOW - 60_000, paths: ['../etc', '-p', 'ok/dir', '/abs', 'a/./b'] })).toEqual(['context.0.args.paths.0', 'context.0.args.paths.1', 'context.0.args.paths.3', 'context.0.args.paths.4']);
    expect(paths({ since: NOW - 60_000, repos: ['deploy', 'other'] })).toEqual(['context.0.args.repos.1']);
    expect(paths({ since: NOW - 60_000, limit: 101 })).toEqual(['context.0.args.limit']);
    expect(paths({ since: NOW - 60_000, ref: 'main' })).toEqual(['context.0.args']);
    const deploys = catalog.validateArgs('changes.deploys', { since: NOW - 60_000, kinds: ['restart'] }, 'c');
    expect(deploys.ok ? [] : deploys.issues.map((issue) => issue.path)).toEqual(['c.args.kinds.0']);
  });

  it('validates arguments that stay valid when validated again (no transforms: plans store them as given)', () => {
    const catalog = new ToolCatalog(createChangesConnector(options));
    const first = catalog.validateArgs('changes.list', { since: '2024-05-01T11:00:00+01:00', service: 'checkout' }, 'c');
    expect(first).toEqual({ ok: true, args: { since: '2024-05-01T11:00:00+01:00', service: 'checkout' } });
    expect(first.ok && catalog.validateArgs('changes.list', first.args, 'c').ok).toBe(true);
  });
});

describe('changes.git arguments and output parsing', () => {
  it('runs git with fixed options, the ref after --end-of-options and the paths after --', () => {
    const args = gitLogArguments({ repository: '/srv/deploy', ref: 'main', since: 1_700_000_000_500, until: 1_700_000_100_500, paths: ['deploy/checkout', 'weird name'], limit: 10 });
    expect(args.slice(0, 5)).toEqual(['--no-pager', '--literal-pathspecs', '--no-optional-locks', '-C', '/srv/deploy']);
    expect(args).toContain('--no-show-signature');
    expect(args).toContain('--no-ext-diff');
    expect(args).toContain('--since=@1700000000');
    expect(args).toContain('--until=@1700000101');
    expect(args).toContain('--max-count=11');
    expect(args.slice(-5)).toEqual(['--end-of-options', 'main', '--', 'deploy/checkout', 'weird name']);
  });

  it('parses git log -z output: header fields, merges, paths with spaces, a commit without paths', () => {
    const hash = (c: string): string => c.repeat(40);
    const output = [
      `\x1e${hash('a')}\x1f${hash('b')} ${hash('c')}\x1fA B\x1fa@b\x1f1700000200\x1f1700000210\x1fMerge feat\0\nfeat.txt\0`,
      `\x1e${hash('b')}\x1f${hash('d')}\x1fC D\x1fc@d\x1f1700000100\x1f1700000100\x1fsecond: raise pool\0\ndeploy/checkout/a.yaml\0we ird.txt\0`,
      `\x1e${hash('d')}\x1f\x1fC D\x1fc@d\x1f1700000000\x1f1700000000\x1fempty\0`,
    ].join('');
    const commits = parseGitLog(output, 1);
    expect(commits).toEqual([
      { hash: hash('a'), parents: [hash('b'), hash('c')], author: 'A B', authorEmail: 'a@b', authoredAt: 1_700_000_200_000, committedAt: 1_700_000_210_000, subject: 'Merge feat', paths: ['feat.txt'], pathCount: 1 },
      { hash: hash('b'), parents: [hash('d')], author: 'C D', authorEmail: 'c@d', authoredAt: 1_700_000_100_000, committedAt: 1_700_000_100_000, subject: 'second: raise pool', paths: ['deploy/checkout/a.yaml'], pathCount: 2 },
      { hash: hash('d'), parents: [], author: 'C D', authorEmail: 'c@d', authoredAt: 1_700_000_000_000, committedAt: 1_700_000_000_000, subject: 'empty', paths: [], pathCount: 0 },
    ]);
  });
});

describe('connectors.changes configuration', () => {
  it('refuses refs that could be read as options or ranges, and duplicate names, naming each', () => {
    const parsed = ChangesConfigSchema.safeParse({
      enabled: true,
      git: [{ name: 'deploy', path: 'a', ref: '--output=/tmp/x' }, { name: 'deploy', path: 'b', ref: 'main..evil' }, { name: 'ok', path: 'c', ref: 'release/2024.05' }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['git.0.ref', 'git.1.name', 'git.1.ref']);
  });
});
