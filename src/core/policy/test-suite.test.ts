import { describe, expect, it } from 'vitest';
import { SHIPPED_DEFAULT_EFFECTS } from '../review/decision.js';
import { compilePolicySet } from './compile.js';
import { PolicyError } from './policy-errors.js';
import { parsePolicyTests, runPolicyTest } from './test-suite.js';

const set = compilePolicySet(
  [
    {
      path: 'p.yaml',
      text: `apiVersion: interlock.dev/v1
kind: Policy
metadata: { name: p }
spec:
  rules:
    - { name: prod, match: 'target.environment == "production"', effect: require_approval, approval: { quorum: 2, groups: [sre], expiresIn: PT1H } }
`,
    },
  ],
  { defaults: SHIPPED_DEFAULT_EFFECTS },
);

describe('policy test files', () => {
  it('fills omitted input fields with defaults and checks effect, rules and the parts of the approval it names', () => {
    const [passing, failing] = parsePolicyTests({
      path: 't.test.yaml',
      text: `cases:
  - name: passes
    input: &prod { target: { environment: production } }
    expect: { effect: require_approval, rules: [p/prod], approval: { quorum: 2 } }
  - name: fails
    input: *prod
    expect: { effect: require_approval, rules: [default/read], approval: { quorum: 1, groups: [dba], expiresIn: PT2H } }
`,
    });
    expect(passing?.input).toMatchObject({ risk: 'read', tool: { name: 'test.tool', risk: 'read' }, mission: { blastRadius: 1, confidence: null }, time: Date.parse('2026-01-07T12:00:00Z') });
    expect(runPolicyTest(set, passing!)).toMatchObject({ passed: true, failures: [] });
    expect(runPolicyTest(set, failing!).failures).toEqual([
      'expected rule default/read among the reasons',
      'expected approval quorum 1, got 2',
      'expected approval groups [dba], got [sre]',
      'expected approval to expire in PT2H, got PT1H',
    ]);
    expect(failing?.line).toBe(5);
  });

  it('rejects duplicate case names, unknown fields and bad durations with their positions', () => {
    let error: unknown;
    try {
      parsePolicyTests({ path: 't.test.yaml', text: 'cases:\n  - { name: a, expect: { effect: allow, approval: { expiresIn: 2h } } }\n  - { name: a, expect: { effect: allow } }\n' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).issues.map((issue) => `${issue.source} ${issue.path}`)).toEqual(['t.test.yaml:2:64 cases.0.expect.approval.expiresIn', 't.test.yaml:3:13 cases.1.name']);
    expect(() => parsePolicyTests({ path: 'u.test.yaml', text: 'cases:\n  - { name: a, expect: { efect: allow } }\n' })).toThrow(/invalid policy test file u\.test\.yaml, 2 problems/);
  });
});
