import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../context.js';
import type { CliDeps } from '../deps.js';
import { runCli } from '../program.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
/** Friday 27 March 2026 18:00 in Berlin: inside the weekend freeze of examples/policies. */
const IN_FREEZE = Date.parse('2026-03-27T17:00:00Z');

/** Runs the CLI in-process from `cwd`; the policy commands need none of the server dependencies. */
async function cli(args: string[], cwd = REPO, now = IN_FREEZE) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const ctx: CliContext = {
    io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) },
    env: {},
    cwd,
    deps: {} as CliDeps,
    debug: false,
    now: () => now,
  };
  const code = await runCli(args, ctx);
  return { code, stdout: stdout.join('\n'), stderr };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'interlock-policy-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const POLICY = `apiVersion: interlock.dev/v1
kind: Policy
metadata: { name: blast-radius }
spec:
  rules:
    - name: wide-writes
      match: mission.blastRadius > 3 && risk in ["write-low", "write-prod"]
      effect: deny
`;

describe('interlock policy test', () => {
  it('runs the shipped examples: every case passes, including the seed scenario, exit 0', async () => {
    const { code, stdout, stderr } = await cli(['policy', 'test', 'examples/policies']);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^policy set [0-9a-f]{12} from examples\/policies: 6 policies, \d+ rules, calendars freeze, year_end$/);
    expect(stdout).toContain('examples/policies/tests/production-freeze.test.yaml\n  ✓ seed scenario: a database restart during the weekend freeze goes to the emergency change board (require_approval)');
    expect(stdout).not.toContain('✗');
    expect(stdout.split('\n').at(-1)).toMatch(/^\d+ passed, 0 failed$/);
  });

  it("runs the estate's policies: the paths the demo takes (automatic, approval, cap, freeze, weak diagnosis)", async () => {
    const { code, stdout, stderr } = await cli(['policy', 'test', 'examples/estate/policies']);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    expect(stdout).toContain('✓ rolling back the critical checkout needs one approval (require_approval)');
    expect(stdout).toContain('✓ in the year-end freeze any write is escalated (escalate)');
    expect(stdout).toContain('✓ the resolution agent proposing the same runbook gets the same decision (allow)');
    expect(stdout.split('\n').at(-1)).toBe('12 passed, 0 failed');
  });

  it('prints why a case failed and exits 1', async () => {
    writeFileSync(join(dir, 'blast-radius.yaml'), POLICY);
    writeFileSync(
      join(dir, 'blast.test.yaml'),
      `cases:
  - name: four targets are denied
    input: { risk: write-low, mission: { blastRadius: 4 } }
    expect: { effect: deny, rules: [blast-radius/wide-writes] }
  - name: three targets are denied too (wrong)
    input: { risk: write-low, mission: { blastRadius: 3 } }
    expect: { effect: deny, rules: [blast-radius/wide-write] }
`,
    );
    const { code, stdout, stderr } = await cli(['policy', 'test', '.'], dir);
    expect(code).toBe(1);
    expect(stdout.split('\n').slice(1)).toEqual([
      'blast.test.yaml',
      '  ✓ four targets are denied (deny)',
      '  ✗ three targets are denied too (wrong) (blast.test.yaml:5)',
      '      expected deny, got allow',
      '      expected rule blast-radius/wide-write among the reasons, but the policy set has no such rule',
      '      reason: default/write-low (allow): no policy rule matched; the default for write-low tools is allow',
      '1 passed, 1 failed',
    ]);
    expect(stderr).toEqual(['interlock: 1 of 2 policy test cases failed']);
  });

  it('reports the results as JSON with --json, and still exits 1 on a failure', async () => {
    writeFileSync(join(dir, 'blast-radius.yaml'), POLICY);
    writeFileSync(join(dir, 'b.test.yaml'), 'cases:\n  - { name: wide, input: { risk: draft, mission: { blastRadius: 9 } }, expect: { effect: deny } }\n');
    const { code, stdout } = await cli(['--json', 'policy', 'test', dir], dir);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { passed: number; failed: number; digest: string; cases: Array<{ name: string; passed: boolean; failures: string[]; decision: { effect: string } }> };
    expect(report).toMatchObject({ passed: 0, failed: 1, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(report.cases).toEqual([expect.objectContaining({ name: 'wide', passed: false, failures: ['expected deny, got allow'], decision: expect.objectContaining({ effect: 'allow' }) as unknown })]);
  });

  it('exits 1 naming file, line and column when the policies are invalid, before running any case', async () => {
    writeFileSync(join(dir, 'tier.yaml'), POLICY.replace('mission.blastRadius > 3', 'target.teir == "critical"'));
    writeFileSync(join(dir, 'x.test.yaml'), 'cases:\n  - { name: x, expect: { effect: allow } }\n');
    const { code, stdout, stderr } = await cli(['policy', 'test', '.'], dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr[0]).toBe('interlock: invalid policy set, 1 problem: fix each one at the file:line:column it names');
    expect(stderr[1]).toMatch(/^ {2}tier\.yaml:7:21 spec\.rules\.0\.match: CEL type error: No such key: teir in `target\.teir`; did you mean target\.tier\?/);
  });

  it('exits 1 naming file and line when a test file is invalid (a typo in an input field)', async () => {
    writeFileSync(join(dir, 'blast-radius.yaml'), POLICY);
    writeFileSync(join(dir, 'x.test.yaml'), 'cases:\n  - name: x\n    input: { target: { teir: critical } }\n    expect: { effect: allow }\n');
    const { code, stderr } = await cli(['policy', 'test', '.'], dir);
    expect(code).toBe(1);
    expect(stderr).toEqual(['interlock: invalid policy test files, 1 problem: fix each one at the file:line:column it names', '  x.test.yaml:3:24 cases.0.input.target.teir: unknown field "teir"']);
  });

  it('takes the policies from --policies and says when there are no test files', async () => {
    const { code, stdout } = await cli(['policy', 'test', 'examples/policies/tests', '--policies', 'examples/policies']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\d+ passed, 0 failed$/);
    const none = await cli(['policy', 'test', dir, '--policies', join(REPO, 'examples/policies')]);
    expect(none.code).toBe(1);
    expect(none.stderr[0]).toMatch(/^interlock: no \*\.test\.yaml files under /);
  });
});

describe('interlock policy explain', () => {
  const seed = `tool: { name: postgres.restart, risk: write-prod }
target: { service: orders-db, environment: production, tier: critical }
mission: { agent: triage-agent, confidence: 0.9 }
time: 2026-03-27T17:00:00Z
`;

  it('shows every rule, whether it matched, and the decision with its reasons and the digest', async () => {
    writeFileSync(join(dir, 'seed.yaml'), seed);
    const { code, stdout, stderr } = await cli(['policy', 'explain', '--policies', 'examples/policies', '--input', join(dir, 'seed.yaml')]);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[1]).toMatch(/^ {2}digest [0-9a-f]{64}$/);
    expect(lines.slice(2, 8)).toEqual([
      'input: postgres.restart (write-prod) on orders-db, production, tier critical at 2026-03-27T17:00:00.000Z',
      'calendars: freeze in a window, year_end outside its windows',
      '',
      'decision: require_approval',
      '  approval: quorum 2 from emergency-change-board, expires in PT1H',
      '  because production-freeze/freeze-database-restarts: database restart during a production freeze: the emergency change board decides',
    ]);
    const row = (id: string) => lines.find((line) => line.startsWith(`│ ${id} `))?.split('│').map((cell) => cell.trim()).slice(1, -1);
    expect(row('production-freeze/freeze-database-restarts')).toEqual(['production-freeze/freeze-database-restarts', 'require_approval', 'matched', 'examples/policies/production-freeze.yaml:41']);
    expect(row('blast-radius/wide-writes')?.slice(0, 3)).toEqual(['blast-radius/wide-writes', 'deny', 'no match']);
  });

  it('prints the explanation as JSON with --json, with evaluation errors per rule', async () => {
    writeFileSync(join(dir, 'pool.json'), JSON.stringify({ tool: { name: 'pgbouncer.set_pool_size', risk: 'write-low' }, args: { pool: 'orders' } }));
    const { code, stdout } = await cli(['policy', 'explain', '--json', '--policies', 'examples/policies', '--input', join(dir, 'pool.json')]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { digest: string; input: { time: number }; decision: { effect: string; policyDigest: string }; calendars: Record<string, boolean>; rules: Array<{ id: string; outcome: string; error?: string }> };
    expect(report.decision.effect).toBe('escalate');
    expect(report.decision.policyDigest).toBe(report.digest);
    expect(report.input.time).toBe(IN_FREEZE); // no time in the input: now
    expect(report.calendars).toEqual({ freeze: true, year_end: false });
    expect(report.rules.find((rule) => rule.id === 'connection-pools/pool-size-cap')).toEqual(expect.objectContaining({ outcome: 'error', error: 'No such key: size' }));
    expect(report.rules.find((rule) => rule.id === 'blast-radius/wide-writes')).toEqual(expect.objectContaining({ outcome: 'not_matched' }));
  });

  it('refuses an input with an unknown field, naming it', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'tool: { name: x, risk: write-prod }\ntarget: { teir: critical }\n');
    const { code, stderr } = await cli(['policy', 'explain', '--policies', 'examples/policies', '--input', join(dir, 'bad.yaml')]);
    expect(code).toBe(1);
    expect(stderr[0]).toMatch(/^interlock: invalid policy input in .*bad\.yaml; fix the fields named below/);
    expect(stderr[1]).toMatch(/^ {2}input\.target: Unrecognized key: "teir"/);
  });

  it('reads the input from standard input (a real process)', async () => {
    const script = "import { run } from './src/cli/main.ts'; process.exitCode = await run(process.argv);";
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', 'interlock', '--json', 'policy', 'explain', '--policies', 'examples/policies'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdin.end(seed);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ decision: { effect: 'require_approval', approval: { groups: ['emergency-change-board'] } } });
  });
});
