import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../core/audit/entry.js';
import { compilePolicySet } from '../core/policy/compile.js';
import { parsePolicyInput } from '../core/policy/input.js';
import { PolicyError } from '../core/policy/policy-errors.js';
import type { PolicyInput } from '../core/policy/policy.js';
import { SHIPPED_DEFAULT_EFFECTS } from '../core/review/decision.js';
import { createPolicySource, loadPolicyDirectory, type PolicyLogger, type PolicySource } from './policy-loader.js';

const defaults = SHIPPED_DEFAULT_EFFECTS;

function rule(policy: string, match: string, effect = 'deny'): string {
  return `apiVersion: interlock.dev/v1
kind: Policy
metadata:
  name: ${policy}
spec:
  rules:
    - name: r
      match: '${match}'
      effect: ${effect}
`;
}

function input(value: Record<string, unknown>): PolicyInput {
  const parsed = parsePolicyInput(value);
  if (!parsed.ok) throw new Error('bad input');
  return parsed.input;
}

/** A logger that records what it was given. */
function recordingLogger(): PolicyLogger & { readonly entries: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> } {
  const entries: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const log = (level: string) => (obj: object, msg?: string) => void entries.push({ level, obj: obj as Record<string, unknown>, ...(msg === undefined ? {} : { msg }) });
  return { entries, info: log('info'), warn: log('warn'), error: log('error') };
}

let dir: string;
const sources: PolicySource[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-policies-'));
});

afterEach(async () => {
  for (const source of sources.splice(0)) source.close();
  await rm(dir, { recursive: true, force: true });
});

describe('loadPolicyDirectory', () => {
  it('compiles every *.yaml and *.yml of the directory in name order, but not test files, dotfiles or subdirectories', async () => {
    await writeFile(join(dir, 'b.yml'), rule('b', 'mission.blastRadius > 3'));
    await writeFile(join(dir, 'a.yaml'), rule('a', 'risk == "draft"'));
    await writeFile(join(dir, 'a.test.yaml'), 'cases: not a policy');
    await writeFile(join(dir, '.hidden.yaml'), 'not: a policy');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    await mkdir(join(dir, 'tests'));
    await writeFile(join(dir, 'tests', 'c.yaml'), 'not: a policy');
    const loaded = await loadPolicyDirectory(dir, { defaults });
    expect(loaded.files).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
    expect(loaded.evaluator.rules.map((item) => item.id)).toEqual(['a/r', 'b/r']);
    expect(loaded.evaluator.decide(input({ mission: { blastRadius: 4 } })).reasons[0]?.rule).toBe('b/r');
  });

  it('rejects a typo in a field, naming the file and the line', async () => {
    await writeFile(join(dir, 'tier.yaml'), rule('tier', 'target.teir == "critical"'));
    const error = await loadPolicyDirectory(dir, { defaults, displayDir: 'policies' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).code).toBe('POLICY_INVALID');
    expect((error as PolicyError).issues.map((issue) => `${issue.source} ${issue.path}`)).toEqual(['policies/tier.yaml:8:22 spec.rules.0.match']);
    expect((error as PolicyError).issues[0]?.message).toMatch(/No such key: teir.*did you mean target\.tier\?/);
  });

  it('says when the directory cannot be read', async () => {
    const error = await loadPolicyDirectory(join(dir, 'missing'), { defaults }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'POLICY_UNREADABLE', message: `cannot read policy directory ${join(dir, 'missing')}: no such file or directory; check the path` });
  });
});

describe('createPolicySource', () => {
  async function source(options: Partial<Parameters<typeof createPolicySource>[0]> = {}) {
    const logger = recordingLogger();
    const changes: Array<[string, string]> = [];
    const created = await createPolicySource({ dir, defaults, logger, onChange: (current, previous) => changes.push([previous.digest, current.digest]), ...options });
    sources.push(created);
    return { source: created, logger, changes };
  }

  it('[GOV-POLICY-LOAD] keeps the last valid set in force when a reload finds a broken one, and reports it with file:line', async () => {
    await writeFile(join(dir, 'blast.yaml'), rule('blast', 'mission.blastRadius > 3'));
    const { source: policies, logger, changes } = await source();
    const before = policies.current();
    expect(before.decide(input({ mission: { blastRadius: 5 } })).effect).toBe('deny');

    await writeFile(join(dir, 'blast.yaml'), rule('blast', 'mission.blastRadius > 3 && target.teir == "critical"'));
    const result = await policies.reload();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('POLICY_INVALID');
    expect(result.digest).toBe(before.digest);
    expect(result.error.issues[0]?.source).toBe(`${join(dir, 'blast.yaml')}:8:49`);
    expect(policies.current()).toBe(before);
    expect(policies.current().decide(input({ mission: { blastRadius: 5 } })).effect).toBe('deny');
    const rejected = logger.entries.find((entry) => entry.level === 'error');
    expect(rejected?.msg).toMatch(/^policy set rejected, the previous set \([0-9a-f]{12}\) stays in force/);
    expect(rejected?.obj.issues).toEqual([expect.stringMatching(new RegExp(`^${join(dir, 'blast.yaml')}:8:49 spec\\.rules\\.0\\.match: CEL type error: No such key: teir`))]);
    expect(changes).toEqual([]);

    await writeFile(join(dir, 'blast.yaml'), rule('blast', 'mission.blastRadius > 5'));
    const fixed = await policies.reload();
    expect(fixed).toMatchObject({ ok: true, changed: true });
    expect(policies.current().decide(input({ mission: { blastRadius: 5 } })).effect).toBe('allow');
    expect(changes).toEqual([[before.digest, policies.current().digest]]);
    expect(await policies.reload()).toMatchObject({ ok: true, changed: false, digest: policies.current().digest });
    expect(changes).toHaveLength(1);
  });

  it('refuses to start on an invalid or unreadable directory', async () => {
    await writeFile(join(dir, 'bad.yaml'), rule('bad', 'risk > 3'));
    await expect(source()).rejects.toMatchObject({ code: 'POLICY_INVALID' });
    await expect(source({ dir: join(dir, 'nope') })).rejects.toMatchObject({ code: 'POLICY_UNREADABLE' });
  });

  it('without a directory has no rules, decides by the defaults, and has the stable digest of the empty set', async () => {
    const { source: policies } = await source({ dir: undefined });
    expect(policies.dir).toBeNull();
    expect(policies.current().rules).toEqual([]);
    expect(policies.current().digest).toBe(compilePolicySet([], { defaults }).digest);
    expect(policies.current().decide(input({ risk: 'write-prod' })).reasons[0]?.rule).toBe('default/write-prod');
    expect(await policies.reload()).toMatchObject({ ok: true, changed: false });
  });

  it('runs concurrent reloads one after the other', async () => {
    await writeFile(join(dir, 'a.yaml'), rule('a', 'true'));
    const { source: policies, changes } = await source();
    await writeFile(join(dir, 'a.yaml'), rule('a', 'false'));
    const results = await Promise.all([policies.reload(), policies.reload(), policies.reload()]);
    expect(results.map((result) => result.ok && result.changed)).toEqual([true, false, false]);
    expect(changes).toHaveLength(1);
  });

  it('[GOV-AUDIT-FAIL-CLOSED] records a change of the set in the audit log before it takes effect, and refuses one it cannot record', async () => {
    await writeFile(join(dir, 'a.yaml'), rule('a', 'true'));
    const appended: AuditEntry[] = [];
    let refuse = false;
    const audit = { append: (entries: readonly AuditEntry[]) => {
      if (refuse) return Promise.reject(new Error('audit storage unavailable'));
      appended.push(...entries);
      return Promise.resolve(entries.map((_, i) => appended.length - entries.length + i));
    } };
    const { source: policies, changes } = await source({ audit, now: () => 1_700_000_000_000 });
    const first = policies.current().digest;
    expect(await policies.reload('alice')).toMatchObject({ ok: true, changed: false });
    expect(appended).toEqual([]);

    await writeFile(join(dir, 'a.yaml'), rule('a', 'false'));
    const changed = await policies.reload('alice');
    expect(changed).toMatchObject({ ok: true, changed: true });
    expect(appended).toEqual([{ schemaVersion: 1, kind: 'policy.changed', actor: 'alice', missionId: null, at: 1_700_000_000_000, data: { previousDigest: first, digest: policies.current().digest, dir, files: [join(dir, 'a.yaml')], rules: 1 } }]);

    const second = policies.current();
    await writeFile(join(dir, 'a.yaml'), rule('a', 'risk == "read"'));
    refuse = true;
    await expect(policies.reload('sighup')).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', details: { digest: second.digest } });
    expect(policies.current()).toBe(second);
    expect(changes).toHaveLength(1);
    refuse = false;
    expect(await policies.reload('sighup')).toMatchObject({ ok: true, changed: true });
    expect(appended.map((entry) => entry.actor)).toEqual(['alice', 'sighup']);
  });

  it('reloads by itself when watching and a file changes', async () => {
    await writeFile(join(dir, 'a.yaml'), rule('a', 'true'));
    const { source: policies, changes } = await source({ watch: true, debounceMs: 50 });
    const before = policies.current().digest;
    await writeFile(join(dir, 'a.yaml'), rule('a', 'risk == "read"'));
    for (let waited = 0; changes.length === 0 && waited < 5000; waited += 25) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(changes).toEqual([[before, policies.current().digest]]);
    expect(policies.current().decide(input({ risk: 'draft' })).effect).toBe('allow');
  });
});
