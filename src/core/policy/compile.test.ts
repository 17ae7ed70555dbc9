import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SHIPPED_DEFAULT_EFFECTS, type DefaultEffects } from '../review/decision.js';
import { POLICY_VARIABLES } from './cel-environment.js';
import { compilePolicySet, DEFAULT_APPROVAL, type CompilePolicyOptions, type PolicyFile } from './compile.js';
import { parsePolicyInput } from './input.js';
import type { PolicyInput } from './policy.js';

/** A policy document as YAML. */
function policy(name: string, rules: readonly object[], calendars: Record<string, object> = {}): PolicyFile {
  return { path: `${name}.yaml`, text: stringify({ apiVersion: 'interlock.dev/v1', kind: 'Policy', metadata: { name }, spec: { calendars, rules } }) };
}

function compile(files: readonly PolicyFile[], options: Partial<CompilePolicyOptions> = {}) {
  return compilePolicySet(files, { defaults: SHIPPED_DEFAULT_EFFECTS, ...options });
}

/** An input with defaults for everything not given (the format of policy test files). */
function input(value: Record<string, unknown> = {}): PolicyInput {
  const parsed = parsePolicyInput(value);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.input;
}

const approval = { quorum: 1, groups: ['sre'] };

describe('compilePolicySet: effects and precedence', () => {
  const set = compile([
    policy('p', [
      { name: 'allow-reads', match: 'risk == "read"', effect: 'allow' },
      { name: 'approve-prod', match: 'target.environment == "production"', effect: 'require_approval', approval },
      { name: 'escalate-unsure', match: 'mission.confidence != null && mission.confidence < 0.8', effect: 'escalate' },
      { name: 'deny-wide', match: 'mission.blastRadius > 3', effect: 'deny' },
    ]),
  ]);

  it('gives each effect with the rule that produced it', () => {
    expect(set.decide(input({ risk: 'read' }))).toMatchObject({ effect: 'allow', reasons: [{ rule: 'p/allow-reads', effect: 'allow' }], approval: null });
    expect(set.decide(input({ target: { environment: 'production' } }))).toMatchObject({ effect: 'require_approval', reasons: [{ rule: 'p/approve-prod' }] });
    expect(set.decide(input({ mission: { confidence: 0.5 } }))).toMatchObject({ effect: 'escalate', reasons: [{ rule: 'p/escalate-unsure' }] });
    expect(set.decide(input({ mission: { blastRadius: 4 } }))).toMatchObject({ effect: 'deny', reasons: [{ rule: 'p/deny-wide' }] });
  });

  it('lets the most restrictive effect win and keeps only its rules as reasons', () => {
    const all = input({ risk: 'read', target: { environment: 'production' }, mission: { confidence: 0.5, blastRadius: 4 } });
    expect(set.decide(all)).toMatchObject({ effect: 'deny', reasons: [{ rule: 'p/deny-wide' }] });
    const noDeny = input({ risk: 'read', target: { environment: 'production' }, mission: { confidence: 0.5 } });
    expect(set.decide(noDeny).effect).toBe('escalate');
    expect(set.decide(input({ risk: 'read', target: { environment: 'production' } })).effect).toBe('require_approval');
  });

  it('uses the rule message, or says which condition matched', () => {
    const withMessage = compile([policy('p', [{ name: 'r', match: 'true', effect: 'deny', message: 'no, because' }])]);
    expect(withMessage.decide(input()).reasons).toEqual([{ rule: 'p/r', effect: 'deny', message: 'no, because' }]);
    expect(set.decide(input({ mission: { blastRadius: 4 } })).reasons[0]?.message).toBe('rule p/deny-wide matched: mission.blastRadius > 3');
  });

  it('stamps every decision with the digest of the set', () => {
    expect(set.decide(input()).policyDigest).toBe(set.digest);
    expect(set.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('compilePolicySet: defaults', () => {
  const set = compile([policy('p', [{ name: 'never', match: 'tool.name == "nothing"', effect: 'deny' }])]);

  it('applies the default of the risk class when no rule matches', () => {
    expect(set.decide(input({ risk: 'read' }))).toMatchObject({ effect: 'allow', reasons: [{ rule: 'default/read', effect: 'allow' }], approval: null });
    expect(set.decide(input({ risk: 'write-prod' }))).toMatchObject({ effect: 'require_approval', reasons: [{ rule: 'default/write-prod' }], approval: DEFAULT_APPROVAL });
  });

  it('takes the defaults and the default approval from the options', () => {
    const defaults: DefaultEffects = { read: 'allow', draft: 'allow', 'write-low': 'require_approval', 'write-prod': 'deny' };
    const custom = compile([], { defaults, defaultApproval: { quorum: 2, groups: ['ops'], expiresInMs: 60_000 } });
    expect(custom.decide(input({ risk: 'write-low' }))).toMatchObject({ effect: 'require_approval', reasons: [{ rule: 'default/write-low' }], approval: { quorum: 2, groups: ['ops'], expiresInMs: 60_000 } });
    expect(custom.decide(input({ risk: 'write-prod' })).effect).toBe('deny');
  });

  it('denies an action whose risk class is missing or unknown', () => {
    const broken = { ...input(), risk: undefined } as unknown as PolicyInput;
    expect(set.decide(broken)).toMatchObject({ effect: 'deny', reasons: [{ rule: 'default/unknown-risk' }], approval: null });
    const noToolRisk = { ...input(), tool: { ...input().tool, risk: 'catastrophic' } } as unknown as PolicyInput;
    expect(set.decide(noToolRisk).effect).toBe('deny');
  });

  it('with no documents has no rules, only defaults, and a digest that depends only on the defaults', () => {
    const empty = compile([]);
    expect(empty.rules).toEqual([]);
    expect(empty.decide(input({ risk: 'write-prod' })).effect).toBe('require_approval');
    expect(compile([]).digest).toBe(empty.digest);
    expect(compile([], { defaults: { ...SHIPPED_DEFAULT_EFFECTS, read: 'deny' } }).digest).not.toBe(empty.digest);
  });
});

describe('compilePolicySet: approvals of require_approval decisions', () => {
  const rule = (name: string, requirement: object) => ({ name, match: 'true', effect: 'require_approval', approval: requirement });

  it('takes the largest quorum, the shortest expiry and the groups every rule accepts', () => {
    const set = compile([
      policy('p', [
        rule('broad', { quorum: 2, groups: ['change-board', 'emergency-change-board'], expiresIn: 'PT4H' }),
        rule('narrow', { quorum: 1, groups: ['emergency-change-board'], expiresIn: 'PT1H' }),
        rule('anyone', { quorum: 1 }),
      ]),
    ]);
    expect(set.decide(input())).toMatchObject({
      effect: 'require_approval',
      reasons: [{ rule: 'p/anyone' }, { rule: 'p/broad' }, { rule: 'p/narrow' }],
      approval: { quorum: 2, groups: ['emergency-change-board'], expiresInMs: 3_600_000 },
    });
  });

  it('gives a rule without expiresIn the default expiry, and one without groups any approver', () => {
    const set = compile([policy('p', [rule('r', { quorum: 3 })])], { defaultApproval: { quorum: 1, groups: [], expiresInMs: 5000 } });
    expect(set.decide(input()).approval).toEqual({ quorum: 3, groups: [], expiresInMs: 5000 });
  });

  it('escalates when the matching rules accept no group in common', () => {
    const set = compile([policy('p', [rule('dba', { groups: ['dba'] }), rule('sre', { groups: ['sre'] })])]);
    const decision = set.decide(input());
    expect(decision.effect).toBe('escalate');
    expect(decision.approval).toBeNull();
    expect(decision.reasons.map((reason) => reason.rule)).toEqual(['p/dba', 'p/sre']);
    expect(decision.reasons[0]?.message).toMatch(/no approver could satisfy them all/);
  });
});

describe('compilePolicySet: nulls', () => {
  const set = compile([
    policy('p', [
      { name: 'tier-unknown', match: 'target.tier == null', effect: 'escalate' },
      { name: 'not-critical', match: 'target.tier != "critical" && risk == "write-low"', effect: 'deny' },
      { name: 'confident', match: 'mission.confidence >= 0.9 && risk == "draft"', effect: 'deny' },
      { name: 'human', match: 'mission.agent == null && risk == "read"', effect: 'require_approval', approval },
    ]),
  ]);

  it('holds null in a nullable field: == null is true, == "x" is false, != "x" is true', () => {
    expect(set.explain(input({ target: { tier: null } })).rules.find((rule) => rule.rule.id === 'p/tier-unknown')?.outcome).toBe('matched');
    expect(set.explain(input({ target: { tier: 'standard' } })).rules.find((rule) => rule.rule.id === 'p/tier-unknown')?.outcome).toBe('not_matched');
    expect(set.decide(input({ risk: 'write-low', target: { tier: null } }))).toMatchObject({ effect: 'deny', reasons: [{ rule: 'p/not-critical' }] });
    expect(set.decide(input({ risk: 'read', mission: { agent: null }, target: { tier: 'critical' } })).effect).toBe('require_approval');
    expect(set.decide(input({ risk: 'read', mission: { agent: 'triage' }, target: { tier: 'critical' } })).effect).toBe('allow');
  });

  it('fails closed when a condition orders a null field (mission.confidence >= 0.9 with no diagnosis)', () => {
    const decision = set.decide(input({ risk: 'draft', target: { tier: 'critical' }, mission: { confidence: null } }));
    expect(decision.effect).toBe('escalate');
    expect(decision.reasons).toEqual([{ rule: 'p/confident', effect: 'escalate', message: expect.stringMatching(/could not be evaluated, failing closed: .*null.*test it first/) }]);
    expect(set.decide(input({ risk: 'draft', target: { tier: 'critical' }, mission: { confidence: 0.95 } })).effect).toBe('deny');
  });
});

describe('compilePolicySet: conditions over the typed environment', () => {
  it('expresses blast radius, confidence thresholds, tiers, args, state, labels and time', () => {
    const set = compile([
      policy('p', [
        { name: 'blast', match: 'mission.blastRadius > 3', effect: 'deny' },
        { name: 'unsure', match: 'mission.confidence != null && mission.confidence < 0.6', effect: 'escalate' },
        { name: 'pool', match: 'tool.name == "pool.resize" && args.size > 200', effect: 'deny' },
        { name: 'ratio', match: 'has(args.ratio) && args.ratio > 0.5', effect: 'deny' },
        { name: 'unhealthy', match: 'has(state.healthy) && state.healthy == false', effect: 'escalate' },
        { name: 'team', match: 'target.labels.?team.orValue("") == "payments"', effect: 'deny' },
        { name: 'night', match: 'time.getHours("Europe/Berlin") < 6', effect: 'escalate' },
      ]),
    ]);
    const at = (extra: Record<string, unknown>) => set.decide(input({ time: '2026-03-25T10:00:00Z', ...extra }));
    expect(at({}).effect).toBe('allow');
    expect(at({ mission: { blastRadius: 3 } }).effect).toBe('allow');
    expect(at({ mission: { blastRadius: 4 } }).reasons[0]?.rule).toBe('p/blast');
    expect(at({ mission: { confidence: 0.59 } }).reasons[0]?.rule).toBe('p/unsure');
    expect(at({ mission: { confidence: 0.6 } }).effect).toBe('allow');
    expect(at({ tool: { name: 'pool.resize' }, args: { size: 201 } }).reasons[0]?.rule).toBe('p/pool');
    expect(at({ tool: { name: 'pool.resize' }, args: { size: 200 } }).effect).toBe('allow');
    expect(at({ args: { ratio: 0.75 } }).reasons[0]?.rule).toBe('p/ratio');
    expect(at({ args: { ratio: 1 } }).reasons[0]?.rule).toBe('p/ratio'); // a whole number is an int, still comparable with a double
    expect(at({ state: { healthy: false } }).reasons[0]?.rule).toBe('p/unhealthy');
    expect(at({ target: { labels: { team: 'payments' } } }).reasons[0]?.rule).toBe('p/team');
    expect(set.decide(input({ time: '2026-03-25T03:00:00Z' })).reasons[0]?.rule).toBe('p/night'); // 04:00 in Berlin
  });

  it('[GOV-POLICY-FAIL-CLOSED] fails closed on a missing map key: the rule contributes escalate with the error, never false', () => {
    const set = compile([policy('p', [{ name: 'pool', match: 'tool.name == "pool.resize" && args.size > 200', effect: 'deny' }])]);
    const decision = set.decide(input({ tool: { name: 'pool.resize' }, args: {} }));
    expect(decision).toMatchObject({ effect: 'escalate', reasons: [{ rule: 'p/pool', effect: 'escalate', message: 'rule p/pool could not be evaluated, failing closed: No such key: size' }] });
    // An error in one operand of && does not matter when the other is false (CEL's commutative logic).
    expect(set.decide(input({ tool: { name: 'other' }, args: {} })).effect).toBe('allow');
  });

  it('fails closed when a dyn condition is not a bool at run time', () => {
    const set = compile([policy('p', [{ name: 'flag', match: 'args.enabled', effect: 'deny' }])]);
    expect(set.decide(input({ args: { enabled: true } })).effect).toBe('deny');
    expect(set.decide(input({ args: { enabled: false } })).effect).toBe('allow');
    expect(set.decide(input({ args: { enabled: 'yes' } }))).toMatchObject({ effect: 'escalate', reasons: [{ message: 'rule p/flag could not be evaluated, failing closed: match evaluated to "yes", not a bool' }] });
  });

  it('explains every rule: matched, not matched, or the evaluation error', () => {
    const set = compile([
      policy('p', [
        { name: 'a', match: 'args.size > 1', effect: 'deny' },
        { name: 'b', match: 'risk == "read"', effect: 'allow' },
        { name: 'c', match: 'risk == "draft"', effect: 'allow' },
      ]),
    ]);
    const explanation = set.explain(input({ risk: 'read' }));
    expect(explanation.rules.map(({ rule, outcome, error }) => [rule.id, outcome, error])).toEqual([
      ['p/a', 'error', 'No such key: size'],
      ['p/b', 'matched', undefined],
      ['p/c', 'not_matched', undefined],
    ]);
    expect(explanation.defaulted).toBe(false);
    expect(explanation.decision).toEqual(set.decide(input({ risk: 'read' })));
    expect(explanation.rules[0]?.rule).toMatchObject({ file: 'p.yaml', line: expect.any(Number), match: 'args.size > 1' });
  });
});

describe('compilePolicySet: calendars', () => {
  const freeze = {
    timezone: 'Europe/Berlin',
    windows: [{ rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0', duration: 'PT64H' }],
  };
  const set = compile([
    policy('calendars', [], { freeze }),
    policy('p', [{ name: 'freeze-writes', match: 'calendar.freeze && risk in ["write-low", "write-prod"]', effect: 'require_approval', approval: { quorum: 2, groups: ['change-board'], expiresIn: 'PT4H' } }]),
  ]);

  it('reads a calendar of any document by name: true inside a window, false outside', () => {
    const write = (time: string) => set.decide(input({ risk: 'write-low', time }));
    expect(write('2026-03-20T15:00:00Z')).toMatchObject({ effect: 'require_approval', approval: { quorum: 2, groups: ['change-board'], expiresInMs: 4 * 3_600_000 } }); // Fri 16:00 CET
    expect(write('2026-03-20T14:59:59Z').effect).toBe('allow');
    expect(set.explain(input({ time: '2026-03-21T12:00:00Z' })).calendars).toEqual({ freeze: true });
    expect(set.calendars).toEqual(['freeze']);
  });

  it('keeps local wall-clock starts across the DST change in Europe/Berlin, and PT64H exact', () => {
    const write = (time: string) => set.decide(input({ risk: 'write-low', time })).effect;
    // Friday 27 March 2026 16:00 CET is 15:00Z; clocks go forward on Sunday 29 March.
    expect(write('2026-03-27T15:00:00Z')).toBe('require_approval');
    // PT64H is 64 elapsed hours: it ends Monday 07:00Z (09:00 CEST), not 08:00 local.
    expect(write('2026-03-30T06:59:59Z')).toBe('require_approval');
    expect(write('2026-03-30T07:00:00Z')).toBe('allow');
    // The next Friday starts at 16:00 CEST, which is 14:00Z.
    expect(write('2026-04-03T13:59:59Z')).toBe('allow');
    expect(write('2026-04-03T14:00:00Z')).toBe('require_approval');
  });
});

describe('docs/policy.md', () => {
  it('lists every CEL variable and field with its type', () => {
    const doc = readFileSync(new URL('../../../docs/policy.md', import.meta.url), 'utf8');
    for (const variable of POLICY_VARIABLES) expect(doc).toMatch(new RegExp(`^\\| \`${variable.path.replace('.', '\\.')}\` \\| \`${variable.type.replace(/[()]/g, '\\$&')}\``, 'm'));
  });
});
