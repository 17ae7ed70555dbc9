import { z } from 'zod';
import { EFFECTS, type Effect } from '../review/decision.js';
import type { PolicyFile } from './compile.js';
import { durationMs, formatDurationMs, parseIsoDuration } from './duration.js';
import { PolicyInputSchema } from './input.js';
import { invalidPolicySet, type PolicyIssue } from './policy-errors.js';
import type { PolicyDecision, PolicyEvaluator, PolicyInput } from './policy.js';
import { parseYamlFile } from './yaml-source.js';

/**
 * Table-driven tests of a policy set, like `opa test`: files `*.test.yaml` with cases of an input and
 * the decision expected for it (docs/policy.md, "Testing policies"). Pure: the CLI reads the files.
 */

/** What a case expects of the decision. */
export interface PolicyTestExpectation {
  readonly effect: Effect;
  /** Rule ids that must be among the decision's reasons (others may be there too). */
  readonly rules: readonly string[];
  /** For `require_approval`: the parts of the requirement to check; omitted parts are not checked. */
  readonly approval?: { readonly quorum?: number; readonly groups?: readonly string[]; readonly expiresInMs?: number };
}

/** One case of a test file. */
export interface PolicyTestCase {
  readonly file: string;
  /** 1-based line of the case in its file. */
  readonly line: number;
  readonly name: string;
  /** The input, defaults filled in. */
  readonly input: PolicyInput;
  readonly expect: PolicyTestExpectation;
}

/** The outcome of one case. */
export interface PolicyTestResult {
  readonly case: PolicyTestCase;
  readonly passed: boolean;
  /** Why it failed, one sentence each; empty when it passed. */
  readonly failures: readonly string[];
  readonly decision: PolicyDecision;
}

const ExpectSchema = z.strictObject({
  effect: z.enum(EFFECTS, { error: () => `effect must be one of ${EFFECTS.join(', ')}` }),
  rules: z.array(z.string().min(1)).default([]),
  approval: z
    .strictObject({
      quorum: z.int().min(1).optional(),
      groups: z.array(z.string()).optional(),
      expiresIn: z.string().optional(),
    })
    .optional(),
});

const TestFileSchema = z.strictObject({
  description: z.string().optional(),
  cases: z.array(z.strictObject({ name: z.string().min(1), input: PolicyInputSchema.prefault({}), expect: ExpectSchema })).min(1, 'a test file needs at least one case'),
});

/**
 * Reads the cases of one test file. YAML anchors and `<<` merge keys may share inputs between cases.
 * @throws PolicyError `POLICY_INVALID` listing every problem (unknown fields, bad values, duplicate case names) with file:line:column.
 */
export function parsePolicyTests(file: PolicyFile): PolicyTestCase[] {
  const yaml = parseYamlFile(file.path, file.text, { merge: true });
  const issues: PolicyIssue[] = [...yaml.issues];
  const cases: PolicyTestCase[] = [];
  for (const source of yaml.documents) {
    const result = TestFileSchema.safeParse(source.value, { reportInput: true });
    if (!result.success) {
      for (const issue of result.error.issues) {
        const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
        if (issue.code === 'unrecognized_keys') for (const key of issue.keys) issues.push(source.issueAtKey([...path, key], `unknown field "${key}"`));
        else issues.push(source.issueAt(path, issue.message));
      }
      continue;
    }
    const names = new Set<string>();
    result.data.cases.forEach((testCase, index) => {
      if (names.has(testCase.name)) issues.push(source.issueAt(['cases', index, 'name'], `duplicate case name "${testCase.name}"`));
      names.add(testCase.name);
      let expiresInMs: number | undefined;
      const expiresIn = testCase.expect.approval?.expiresIn;
      if (expiresIn !== undefined) {
        const parsed = parseIsoDuration(expiresIn);
        if (parsed.ok) expiresInMs = durationMs(parsed.value);
        else issues.push(source.issueAt(['cases', index, 'expect', 'approval', 'expiresIn'], parsed.message));
      }
      const approval = testCase.expect.approval;
      cases.push({
        file: file.path,
        line: source.issueAt(['cases', index], '').line,
        name: testCase.name,
        input: testCase.input,
        expect: {
          effect: testCase.expect.effect,
          rules: testCase.expect.rules,
          ...(approval === undefined
            ? {}
            : { approval: { ...(approval.quorum === undefined ? {} : { quorum: approval.quorum }), ...(approval.groups === undefined ? {} : { groups: approval.groups }), ...(expiresInMs === undefined ? {} : { expiresInMs }) } }),
        },
      });
    });
  }
  if (issues.length > 0) throw invalidPolicySet(issues, `policy test file ${file.path}`);
  return cases;
}

/** Runs one case against `evaluator` and says why it failed, if it did. */
export function runPolicyTest(evaluator: PolicyEvaluator & { readonly rules?: ReadonlyArray<{ readonly id: string }> }, testCase: PolicyTestCase): PolicyTestResult {
  const decision = evaluator.decide(testCase.input);
  const failures: string[] = [];
  const { expect } = testCase;
  const reasons = decision.reasons.map((reason) => reason.rule);
  if (decision.effect !== expect.effect) failures.push(`expected ${expect.effect}, got ${decision.effect}`);
  const known = evaluator.rules === undefined ? undefined : new Set(evaluator.rules.map((rule) => rule.id));
  for (const rule of expect.rules) {
    if (reasons.includes(rule)) continue;
    const unknown = known !== undefined && !known.has(rule) && !rule.startsWith('default/');
    failures.push(unknown ? `expected rule ${rule} among the reasons, but the policy set has no such rule` : `expected rule ${rule} among the reasons`);
  }
  if (expect.approval !== undefined) {
    const approval = decision.approval;
    if (approval === null) {
      failures.push('expected an approval requirement, got none');
    } else {
      if (expect.approval.quorum !== undefined && approval.quorum !== expect.approval.quorum) failures.push(`expected approval quorum ${expect.approval.quorum}, got ${approval.quorum}`);
      if (expect.approval.groups !== undefined && [...expect.approval.groups].sort().join(',') !== [...approval.groups].sort().join(',')) {
        failures.push(`expected approval groups [${expect.approval.groups.join(', ')}], got [${approval.groups.join(', ')}]`);
      }
      if (expect.approval.expiresInMs !== undefined && approval.expiresInMs !== expect.approval.expiresInMs) {
        failures.push(`expected approval to expire in ${formatDurationMs(expect.approval.expiresInMs)}, got ${formatDurationMs(approval.expiresInMs)}`);
      }
    }
  }
  return { case: testCase, passed: failures.length === 0, failures, decision };
}
