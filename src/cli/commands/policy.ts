import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../core/errors.js';
import type { CompiledPolicySet, PolicyExplanation } from '../../core/policy/compile.js';
import { formatDurationMs } from '../../core/policy/duration.js';
import { parsePolicyInput } from '../../core/policy/input.js';
import { PolicyError, sortIssues, type PolicyIssue } from '../../core/policy/policy-errors.js';
import type { ApprovalRequirement, PolicyInput } from '../../core/policy/policy.js';
import { parsePolicyTests, runPolicyTest, type PolicyTestCase, type PolicyTestResult } from '../../core/policy/test-suite.js';
import { loadPolicyDirectory, type LoadedPolicySet } from '../../engine/policy-loader.js';
import { apiFor, withApiOptions } from '../api.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { renderTable, toJson } from '../output.js';

/**
 * Registers `interlock policy test` (table-driven tests of a policy set, like `opa test`) and
 * `interlock policy explain` (every rule's outcome and the decision for one input). Both read the
 * review defaults from the configuration, so they decide exactly as `interlock serve` would.
 * docs/policy.md describes the formats.
 */
export function registerPolicyCommand(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('test and explain policy-as-code (docs/policy.md)');

  policy
    .command('test')
    .description('run the *.test.yaml cases under <dir> against a policy set; exit 1 when a case fails or the policies are invalid')
    .argument('<dir>', 'directory searched (with its subdirectories) for *.test.yaml files')
    .option('--policies <dir>', 'policy directory (default: <dir>)')
    .action(async (dir: string, options: { policies?: string }, command: Command) => {
      const defaults = configFor(ctx, command).review.defaults;
      const policiesDir = options.policies ?? dir;
      const loaded = await loadFrom(ctx, policiesDir, defaults);
      const cases = await readTestCases(ctx, dir);
      const results = cases.map((testCase) => runPolicyTest(loaded.evaluator, testCase));
      const failed = results.filter((result) => !result.passed).length;
      if (globalOptions(command).json === true) ctx.io.out(toJson(testReport(loaded, display(ctx, policiesDir), results)));
      else printTestResults(ctx, loaded, display(ctx, policiesDir), results);
      if (failed > 0) throw new CliError(`${failed} of ${results.length} policy test case${results.length === 1 ? '' : 's'} failed`);
    });

  policy
    .command('explain')
    .description('show every rule, whether it matched, and the decision for one input (YAML or JSON)')
    .requiredOption('--policies <dir>', 'policy directory')
    .option('--input <file>', 'the policy input, YAML or JSON; "-" or absent: standard input')
    .action(async (options: { policies: string; input?: string }, command: Command) => {
      const defaults = configFor(ctx, command).review.defaults;
      const loaded = await loadFrom(ctx, options.policies, defaults);
      const input = await readInput(ctx, options.input);
      const explanation = loaded.evaluator.explain(input);
      if (globalOptions(command).json === true) ctx.io.out(toJson(explainReport(loaded, display(ctx, options.policies), input, explanation)));
      else printExplanation(ctx, loaded, display(ctx, options.policies), input, explanation);
    });

  withApiOptions(
    policy
      .command('reload')
      .description("make a running server read its policy directory again (an invalid set is rejected and the set in force stays)"),
  ).action(async (_options: unknown, command: Command) => {
    const result = await apiFor(ctx, command).reloadPolicy();
    if (globalOptions(command).json === true) ctx.io.out(toJson(result));
    else ctx.io.out(`${result.changed ? 'policy set replaced' : 'policy set unchanged'}: digest ${result.digest}, ${result.files.length} file(s)`);
  });
}

/** `path` relative to the working directory when inside it, as given otherwise. */
function display(ctx: CliContext, path: string): string {
  const absolute = resolve(ctx.cwd, path);
  const rel = relative(ctx.cwd, absolute);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? absolute : rel;
}

function loadFrom(ctx: CliContext, dir: string, defaults: Parameters<typeof loadPolicyDirectory>[1]['defaults']): Promise<LoadedPolicySet> {
  return loadPolicyDirectory(resolve(ctx.cwd, dir), { defaults, displayDir: display(ctx, dir) });
}

/** Every case of every `*.test.yaml` under `dir`, in path order; every problem of every file at once. */
async function readTestCases(ctx: CliContext, dir: string): Promise<PolicyTestCase[]> {
  const root = resolve(ctx.cwd, dir);
  let names: string[];
  try {
    names = (await readdir(root, { recursive: true })).filter((name) => /\.test\.ya?ml$/.test(name)).sort();
  } catch (error) {
    throw new PolicyError('POLICY_UNREADABLE', `cannot read policy test directory ${display(ctx, dir)}: ${(error as Error).message}`, [], { cause: error });
  }
  if (names.length === 0) throw new CliError(`no *.test.yaml files under ${display(ctx, dir)}; see docs/policy.md, "Testing policies"`);
  const cases: PolicyTestCase[] = [];
  const issues: PolicyIssue[] = [];
  for (const name of names) {
    const path = join(display(ctx, dir), name);
    try {
      cases.push(...parsePolicyTests({ path, text: await readFile(join(root, name), 'utf8') }));
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (issues.length > 0) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    throw new PolicyError('POLICY_INVALID', `invalid policy test files, ${count}: fix each one at the file:line:column it names`, sortIssues(issues));
  }
  return cases;
}

function testReport(loaded: LoadedPolicySet, policies: string, results: readonly PolicyTestResult[]): object {
  return {
    policies,
    digest: loaded.evaluator.digest,
    passed: results.filter((result) => result.passed).length,
    failed: results.filter((result) => !result.passed).length,
    cases: results.map((result) => ({
      file: result.case.file,
      line: result.case.line,
      name: result.case.name,
      passed: result.passed,
      failures: result.failures,
      expected: result.case.expect,
      decision: result.decision,
    })),
  };
}

function printTestResults(ctx: CliContext, loaded: LoadedPolicySet, policies: string, results: readonly PolicyTestResult[]): void {
  ctx.io.out(describeSet(loaded, policies));
  let file: string | undefined;
  for (const result of results) {
    if (result.case.file !== file) {
      file = result.case.file;
      ctx.io.out(file);
    }
    if (result.passed) {
      ctx.io.out(`  ✓ ${result.case.name} (${result.decision.effect})`);
      continue;
    }
    ctx.io.out(`  ✗ ${result.case.name} (${result.case.file}:${result.case.line})`);
    for (const failure of result.failures) ctx.io.out(`      ${failure}`);
    for (const reason of result.decision.reasons) ctx.io.out(`      reason: ${reason.rule} (${reason.effect}): ${reason.message}`);
  }
  const failed = results.filter((result) => !result.passed).length;
  ctx.io.out(`${results.length - failed} passed, ${failed} failed`);
}

/** `policy set 1a2b3c4d5e6f from examples/policies: 6 policies, 14 rules, calendars freeze, holidays`. */
function describeSet(loaded: LoadedPolicySet, policies: string): string {
  const set = loaded.evaluator;
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const calendars = set.calendars.length === 0 ? '' : `, calendars ${set.calendars.join(', ')}`;
  return `policy set ${set.digest.slice(0, 12)} from ${policies}: ${count(set.policies.length, 'policy', 'policies')}, ${count(set.rules.length, 'rule', 'rules')}${calendars}`;
}

/** The input from `--input <file>` or standard input, YAML or JSON, defaults filled in (`time` now). */
async function readInput(ctx: CliContext, file: string | undefined): Promise<PolicyInput> {
  let text: string;
  const source = file === undefined || file === '-' ? 'standard input' : display(ctx, file);
  if (file === undefined || file === '-') {
    if (process.stdin.isTTY) throw new CliError('give the policy input with --input <file>, or pipe it on standard input', 2);
    text = await readStdin();
  } else {
    try {
      text = await readFile(resolve(ctx.cwd, file), 'utf8');
    } catch (error) {
      throw new CliError(`cannot read the policy input ${source}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  }
  let value: unknown;
  try {
    value = parseYaml(text) ?? {};
  } catch (error) {
    throw new InputError('INPUT_INVALID', `the policy input in ${source} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !('time' in value)) value = { ...value, time: ctx.now() };
  const parsed = parsePolicyInput(value, 'input');
  if (!parsed.ok) throw new InputError('INPUT_INVALID', `invalid policy input in ${source}; fix the fields named below (docs/policy.md lists them)`, parsed.issues);
  return parsed.input;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function explainReport(loaded: LoadedPolicySet, policies: string, input: PolicyInput, explanation: PolicyExplanation): object {
  return {
    policies,
    files: loaded.files,
    digest: loaded.evaluator.digest,
    input,
    calendars: explanation.calendars,
    decision: explanation.decision,
    defaulted: explanation.defaulted,
    rules: explanation.rules.map(({ rule, outcome, error }) => ({ id: rule.id, effect: rule.effect, match: rule.match, outcome, ...(error === undefined ? {} : { error }), file: rule.file, line: rule.line })),
  };
}

function printExplanation(ctx: CliContext, loaded: LoadedPolicySet, policies: string, input: PolicyInput, explanation: PolicyExplanation): void {
  const set: CompiledPolicySet = loaded.evaluator;
  ctx.io.out(describeSet(loaded, policies));
  ctx.io.out(`  digest ${set.digest}`);
  const target = [input.target.service, input.target.environment, input.target.tier === null ? null : `tier ${input.target.tier}`].filter((part) => part !== null).join(', ');
  ctx.io.out(`input: ${input.tool.name} (${input.risk})${target === '' ? '' : ` on ${target}`} at ${new Date(input.time).toISOString()}`);
  const calendars = Object.entries(explanation.calendars);
  if (calendars.length > 0) ctx.io.out(`calendars: ${calendars.map(([name, open]) => `${name} ${open ? 'in a window' : 'outside its windows'}`).join(', ')}`);
  ctx.io.out('');
  ctx.io.out(`decision: ${explanation.decision.effect}${explanation.defaulted ? ' (no rule matched: the default of the risk class)' : ''}`);
  if (explanation.decision.approval !== null) ctx.io.out(`  approval: ${describeApproval(explanation.decision.approval)}`);
  for (const reason of explanation.decision.reasons) ctx.io.out(`  because ${reason.rule}: ${reason.message}`);
  if (explanation.rules.length === 0) return;
  ctx.io.out('');
  const outcome = (rule: PolicyExplanation['rules'][number]): string => {
    if (rule.outcome === 'matched') return 'matched';
    if (rule.outcome === 'error') return `error → escalate: ${rule.error ?? ''}`;
    return rule.outcome === 'skipped' ? 'not evaluated' : 'no match';
  };
  ctx.io.out(renderTable(['RULE', 'EFFECT', 'RESULT', 'WHERE'], explanation.rules.map((rule) => [rule.rule.id, rule.rule.effect, outcome(rule), `${rule.rule.file}:${rule.rule.line}`])));
}

/** `quorum 2 from change-board or emergency-change-board, expires in PT4H`. */
function describeApproval(approval: ApprovalRequirement): string {
  const from = approval.groups.length === 0 ? 'any approver' : approval.groups.join(' or ');
  return `quorum ${approval.quorum} from ${from}, expires in ${formatDurationMs(approval.expiresInMs)}`;
}
