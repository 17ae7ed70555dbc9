import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../errors.js';
import { SHIPPED_DEFAULT_EFFECTS } from '../review/decision.js';
import { compilePolicySet, type PolicyFile } from './compile.js';
import { PolicyError, type PolicyIssue } from './policy-errors.js';

/** The issues a set is rejected with; fails the test when it is accepted. */
function rejection(files: readonly PolicyFile[]): PolicyIssue[] {
  try {
    compilePolicySet(files, { defaults: SHIPPED_DEFAULT_EFFECTS });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).code).toBe('POLICY_INVALID');
    return [...(error as PolicyError).issues];
  }
  throw new Error('the policy set was accepted');
}

/** One document with the given rules block (already indented as under `rules:`). */
function doc(rules: string, extra = ''): string {
  return `apiVersion: interlock.dev/v1
kind: Policy
metadata:
  name: p
spec:
${extra}  rules:
${rules}`;
}

const at = (issue: PolicyIssue | undefined) => (issue === undefined ? undefined : `${issue.source} ${issue.path}`);

describe('policy documents rejected at load', () => {
  it('[GOV-POLICY-LOAD] names file, line and column of a typo in a field (target.teir), with a suggestion', () => {
    const text = doc(`    - name: r
      match: 'risk == "write-prod" && target.teir == "critical"'
      effect: deny
`);
    const issues = rejection([{ path: 'policies/tier.yaml', text }]);
    expect(issues).toHaveLength(1);
    // Line 8 is the match line; `teir` starts at column 46 (`      match: '` is 14 characters, then 31 of the condition).
    expect(at(issues[0])).toBe('policies/tier.yaml:8:46 spec.rules.0.match');
    expect(issues[0]?.message).toBe('CEL type error: No such key: teir in `target.teir`; did you mean target.tier? target has the fields service, environment, tier, labels');
    expect(text.split('\n')[7]?.slice(45, 49)).toBe('teir');
  });

  it('rejects a mistyped comparison (risk > 3), an unknown variable and a syntax error', () => {
    const issues = rejection([
      {
        path: 'p.yaml',
        text: doc(`    - { name: a, match: 'risk > 3', effect: deny }
    - { name: b, match: 'tenant == "x"', effect: deny }
    - { name: c, match: 'risk == ', effect: deny }
    - { name: d, match: 'mission.confidence + "x" == "y"', effect: deny }
`),
      },
    ]);
    expect(issues.map((issue) => [issue.line, issue.message])).toEqual([
      [7, expect.stringMatching(/^CEL type error: no such overload: string > int/)],
      [8, expect.stringMatching(/^CEL type error: Unknown variable: tenant.*the variables are tool, args, risk, target, mission, time, state, calendar$/)],
      [9, expect.stringMatching(/^CEL syntax error: Unexpected token: EOF/)],
      [10, expect.stringMatching(/^CEL type error: no such overload: double \+ string/)],
    ]);
  });

  it('rejects null comparisons of fields that are never null, has() on fields, and non-bool conditions', () => {
    const issues = rejection([
      {
        path: 'p.yaml',
        text: doc(`    - { name: a, match: 'risk == null', effect: deny }
    - { name: b, match: 'has(target.tier)', effect: deny }
    - { name: c, match: 'risk', effect: deny }
    - { name: d, match: 'mission.blastRadius == null', effect: deny }
`),
      },
    ]);
    expect(issues.map((issue) => [issue.line, issue.message])).toEqual([
      [7, expect.stringMatching(/`risk == null`: risk is never null \(only target\.service, target\.environment, target\.tier, mission\.agent, mission\.confidence, mission\.hypothesis can be null\)/)],
      [8, '`has(target.tier)` is always true: target.tier is a field, always present; it is null when unknown: write target.tier != null. has() tests map keys, e.g. has(args.size)'],
      [9, 'match must be a bool condition; `risk` is of type string'],
      [10, expect.stringMatching(/^CEL type error: no such overload: int == null.*only target\.service/)],
    ]);
  });

  it('rejects an unknown effect, a missing approval, an approval on another effect and unknown fields', () => {
    const issues = rejection([
      {
        path: 'p.yaml',
        text: doc(`    - name: a
      match: 'true'
      effect: block
    - name: b
      match: 'true'
      effect: require_approval
    - name: c
      match: 'true'
      effect: deny
      approval: { quorum: 1 }
    - name: d
      match: 'true'
      efect: deny
`),
      },
    ]);
    expect(issues.map((issue) => `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`)).toEqual([
      '9:15 spec.rules.0.effect: effect must be one of allow, require_approval, escalate, deny',
      '12:15 spec.rules.1.effect: a require_approval rule needs an approval block, e.g. approval: { quorum: 1, groups: [sre] }',
      '16:7 spec.rules.2.approval: approval applies only to require_approval rules; this rule\'s effect is deny',
      '17:7 spec.rules.3.effect: effect must be one of allow, require_approval, escalate, deny (missing)',
      '19:7 spec.rules.3.efect: unknown field "efect"; did you mean "effect"?',
    ]);
  });

  it('rejects a bad RRULE, time zone and durations, each at its value', () => {
    const text = doc(
      `    - { name: r, match: 'calendar.freeze', effect: require_approval, approval: { quorum: 1, expiresIn: 4h } }
`,
      `  calendars:
    freeze:
      timezone: Europe/Berlinn
      windows:
        - { rrule: "FREQ=WEEKLY;BYDAY=XX;BYHOUR=16", duration: PT64H }
        - { rrule: "FREQ=WEEKLY;BYHOUR=25", duration: "64 hours" }
        - { rrule: "FREQ=MINUTELY", duration: PT1H }
        - { rrule: "FREQ=WEEKLY;INTERVAL=2", duration: PT1H }
`,
    );
    const issues = rejection([{ path: 'cal.yaml', text }]);
    expect(issues.map((issue) => `${issue.line} ${issue.path}: ${issue.message}`)).toEqual([
      '8 spec.calendars.freeze.timezone: unknown time zone "Europe/Berlinn"; use an IANA name such as Europe/Berlin or UTC',
      '10 spec.calendars.freeze.windows.0.rrule: BYDAY=XX: expected weekdays MO, TU, WE, TH, FR, SA, SU (optionally with an ordinal, e.g. 1FR or -1SU) in RRULE "FREQ=WEEKLY;BYDAY=XX;BYHOUR=16" (RFC 5545 §3.3.10)',
      '11 spec.calendars.freeze.windows.1.rrule: BYHOUR=25: each value must be an integer in 0..23 in RRULE "FREQ=WEEKLY;BYHOUR=25" (RFC 5545 §3.3.10)',
      '11 spec.calendars.freeze.windows.1.duration: "64 hours" is not an ISO 8601 duration of weeks (P2W) or of days, hours, minutes and seconds (P2DT16H, PT4H, PT30M); years, months and fractions are not accepted',
      '12 spec.calendars.freeze.windows.2.rrule: FREQ=MINUTELY is not supported; use YEARLY, MONTHLY, WEEKLY, DAILY in RRULE "FREQ=MINUTELY" (RFC 5545 §3.3.10)',
      "13 spec.calendars.freeze.windows.3.rrule: INTERVAL counts occurrences from the window's `start`; set `start` to the local date-time of the first occurrence in RRULE \"FREQ=WEEKLY;INTERVAL=2\" (RFC 5545 §3.3.10)",
      '15 spec.rules.0.approval.expiresIn: "4h" is not an ISO 8601 duration of weeks (P2W) or of days, hours, minutes and seconds (P2DT16H, PT4H, PT30M); years, months and fractions are not accepted',
    ]);
  });

  it('rejects duplicate rule names, duplicate policy names, duplicate calendars and unknown calendars', () => {
    const calendar = `  calendars:
    freeze: { timezone: UTC, windows: [ { rrule: "FREQ=DAILY", duration: PT1H } ] }
`;
    const issues = rejection([
      { path: 'a.yaml', text: doc(`    - { name: r, match: 'calendar.freeze', effect: deny }\n    - { name: r, match: 'calendar.frezee', effect: deny }\n`, calendar) },
      { path: 'b.yaml', text: doc(`    - { name: s, match: 'calendar["holidays"] || "xmas" in calendar', effect: deny }\n`, calendar) },
    ]);
    expect(issues.map((issue) => `${issue.source} ${issue.path}: ${issue.message}`)).toEqual([
      'a.yaml:10:15 spec.rules.1.name: duplicate rule name "r" in policy p',
      'a.yaml:10:26 spec.rules.1.match: unknown calendar "frezee"; did you mean calendar.freeze? (calendars of the policy set: freeze)',
      'b.yaml:4:3 metadata.name: duplicate policy name "p"; a.yaml:4:3 uses it already',
      'b.yaml:7:5 spec.calendars.freeze: duplicate calendar name "freeze"; calendars are global by name and a.yaml:7:5 defines it already',
      'b.yaml:9:26 spec.rules.0.match: unknown calendar "holidays" (calendars of the policy set: freeze)',
      'b.yaml:9:50 spec.rules.0.match: unknown calendar "xmas" (calendars of the policy set: freeze)',
    ]);
  });

  it('reports YAML syntax errors, a wrong apiVersion or kind, and bad names', () => {
    expect(rejection([{ path: 'broken.yaml', text: 'apiVersion: interlock.dev/v1\nkind: [Policy\n' }])[0]).toMatchObject({ file: 'broken.yaml', path: '(document)', message: expect.stringMatching(/^invalid YAML: /) });
    const issues = rejection([{ path: 'x.yaml', text: 'apiVersion: v2\nkind: Rule\nmetadata: { name: Default }\nspec: { rules: [] }\n' }]);
    expect(issues.map((issue) => `${issue.line}:${issue.column} ${issue.message}`)).toEqual([
      '1:13 apiVersion must be interlock.dev/v1',
      '2:7 kind must be Policy',
      '3:19 a policy name must be a lowercase DNS label: letters a-z, digits and "-", starting and ending with a letter or digit, at most 63 characters',
    ]);
    expect(rejection([{ path: 'd.yaml', text: 'apiVersion: interlock.dev/v1\nkind: Policy\nmetadata: { name: default }\nspec: {}\n' }])[0]?.message).toMatch(/reserved/);
  });

  it('lists every problem of every file at once, ordered by file and line', () => {
    const issues = rejection([
      { path: 'z.yaml', text: doc(`    - { name: a, match: 'target.teir == "x"', effect: deny }\n`).replace('name: p', 'name: z') },
      { path: 'a.yaml', text: doc(`    - { name: a, match: 'risk > 3', effect: deny }\n    - { name: b, match: 'true', effect: nope }\n`) },
    ]);
    expect(issues.map((issue) => `${issue.file}:${issue.line}`)).toEqual(['a.yaml:7', 'a.yaml:8', 'z.yaml:7']);
  });

  it('positions CEL errors inside block scalars', () => {
    const issues = rejection([{ path: 'b.yaml', text: doc(`    - name: a\n      match: >-\n        risk == "write-prod"\n        && target.teir == "x"\n      effect: deny\n`) }]);
    expect(at(issues[0])).toBe('b.yaml:10:19 spec.rules.0.match');
  });

  it('is registered as a config error, documented in docs/errors.md', () => {
    expect(ERROR_CODES.POLICY_INVALID.kind).toBe('config');
    expect(new PolicyError('POLICY_INVALID', 'x').status).toBe(500);
  });
});
