import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EFFECTS, SHIPPED_DEFAULT_EFFECTS, type Effect } from '../review/decision.js';
import { RISK_CLASSES } from '../tools/tool.js';
import { compilePolicySet, DEFAULT_APPROVAL, type PolicyFile } from './compile.js';
import { parsePolicyInput } from './input.js';
import type { PolicyInput } from './policy.js';

// Conditions the generated rules combine, each with the same test written in TypeScript: the model.
const ATOMS: ReadonlyArray<{ readonly cel: string; readonly holds: (input: PolicyInput) => boolean }> = [
  { cel: 'true', holds: () => true },
  { cel: 'risk == "write-prod"', holds: (input) => input.risk === 'write-prod' },
  { cel: 'risk in ["write-low", "write-prod"]', holds: (input) => input.risk === 'write-low' || input.risk === 'write-prod' },
  { cel: 'mission.blastRadius > 3', holds: (input) => input.mission.blastRadius > 3 },
  { cel: 'target.tier == null', holds: (input) => input.target.tier === null },
  { cel: 'target.tier == "critical"', holds: (input) => input.target.tier === 'critical' },
  { cel: 'mission.confidence != null && mission.confidence < 0.6', holds: (input) => input.mission.confidence !== null && input.mission.confidence < 0.6 },
  { cel: 'tool.name.startsWith("db.")', holds: (input) => input.tool.name.startsWith('db.') },
  { cel: 'args.size > 10', holds: (input) => (input.args.size as number) > 10 },
];

const RANK: Readonly<Record<Effect, number>> = { allow: 0, require_approval: 1, escalate: 2, deny: 3 };

interface GeneratedRule {
  readonly name: string;
  readonly atoms: readonly [number, number];
  readonly join: '&&' | '||';
  readonly effect: Effect;
  readonly quorum: number;
  readonly groups: readonly string[];
  readonly expiresHours: number;
}

const ruleArb = (name: string): fc.Arbitrary<GeneratedRule> =>
  fc.record({
    name: fc.constant(name),
    atoms: fc.tuple(fc.nat(ATOMS.length - 1), fc.nat(ATOMS.length - 1)),
    join: fc.constantFrom('&&' as const, '||' as const),
    effect: fc.constantFrom(...EFFECTS),
    quorum: fc.integer({ min: 1, max: 3 }),
    groups: fc.subarray(['sre', 'dba', 'change-board']),
    expiresHours: fc.integer({ min: 1, max: 48 }),
  });

const rulesArb = fc.integer({ min: 0, max: 8 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => ruleArb(`r${index}`))));

const inputArb: fc.Arbitrary<PolicyInput> = fc
  .record({
    risk: fc.constantFrom(...RISK_CLASSES),
    blastRadius: fc.integer({ min: 0, max: 6 }),
    tier: fc.constantFrom(null, 'critical', 'standard'),
    confidence: fc.constantFrom(null, 0.3, 0.59, 0.6, 0.95),
    tool: fc.constantFrom('db.restart', 'service.restart'),
    size: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ risk, blastRadius, tier, confidence, tool, size }) => {
    const parsed = parsePolicyInput({ tool: { name: tool, risk }, args: { size }, target: { tier }, mission: { confidence, blastRadius } });
    if (!parsed.ok) throw new Error('bad generated input');
    return parsed.input;
  });

function celOf(rule: GeneratedRule): string {
  return `(${ATOMS[rule.atoms[0]]?.cel ?? 'true'}) ${rule.join} (${ATOMS[rule.atoms[1]]?.cel ?? 'true'})`;
}

function ruleDocument(rule: GeneratedRule): object {
  return {
    name: rule.name,
    match: celOf(rule),
    effect: rule.effect,
    ...(rule.effect === 'require_approval' ? { approval: { quorum: rule.quorum, groups: rule.groups, expiresIn: `PT${rule.expiresHours}H` } } : {}),
    message: `message of ${rule.name}`,
  };
}

/** The rules spread over `parts` documents named by `name`, in the order given. */
function files(rules: readonly GeneratedRule[], parts: number, name: (index: number) => string): PolicyFile[] {
  return Array.from({ length: parts }, (_, index) => ({
    path: name(index),
    text: stringify(
      { apiVersion: 'interlock.dev/v1', kind: 'Policy', metadata: { name: `policy-${index}` }, spec: { rules: rules.filter((_, ruleIndex) => ruleIndex % parts === index).map(ruleDocument) } },
    ),
  }));
}

/** What the decision must be, computed from the model of each condition. */
function expected(rules: readonly GeneratedRule[], parts: number, input: PolicyInput): { effect: Effect; rules: string[]; approval: object | null } {
  const matched = rules
    .map((rule, index) => ({ rule, id: `policy-${index % parts}/${rule.name}` }))
    .filter(({ rule }) => {
      const [a, b] = [ATOMS[rule.atoms[0]]?.holds(input) ?? true, ATOMS[rule.atoms[1]]?.holds(input) ?? true];
      return rule.join === '&&' ? a && b : a || b;
    });
  if (matched.length === 0) {
    const effect = SHIPPED_DEFAULT_EFFECTS[input.risk];
    return { effect, rules: [`default/${input.risk}`], approval: effect === 'require_approval' ? DEFAULT_APPROVAL : null };
  }
  const top = Math.max(...matched.map(({ rule }) => RANK[rule.effect]));
  const winners = matched.filter(({ rule }) => RANK[rule.effect] === top);
  const ids = winners.map(({ id }) => id).sort();
  const effect = winners[0]?.rule.effect ?? 'allow';
  if (effect !== 'require_approval') return { effect, rules: ids, approval: null };
  const named = winners.filter(({ rule }) => rule.groups.length > 0);
  const groups = named.length === 0 ? [] : ['sre', 'dba', 'change-board'].filter((group) => named.every(({ rule }) => rule.groups.includes(group))).sort();
  if (named.length > 0 && groups.length === 0) return { effect: 'escalate', rules: ids, approval: null };
  return {
    effect,
    rules: ids,
    approval: { quorum: Math.max(...winners.map(({ rule }) => rule.quorum)), groups, expiresInMs: Math.min(...winners.map(({ rule }) => rule.expiresHours)) * 3_600_000 },
  };
}

describe('policy decisions (property-based)', () => {
  it('are the most restrictive effect of the matching rules, with exactly those rules as reasons, or the default', () => {
    fc.assert(
      fc.property(rulesArb, fc.integer({ min: 1, max: 3 }), fc.array(inputArb, { minLength: 1, maxLength: 5 }), (rules, parts, inputs) => {
        const set = compilePolicySet(files(rules, parts, (index) => `f${index}.yaml`), { defaults: SHIPPED_DEFAULT_EFFECTS });
        for (const input of inputs) {
          const decision = set.decide(input);
          const want = expected(rules, parts, input);
          expect({ effect: decision.effect, rules: decision.reasons.map((reason) => reason.rule), approval: decision.approval }).toEqual(want);
          expect(decision.reasons.every((reason) => reason.effect === decision.effect)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('do not depend on the order of rules, documents or files, nor on file names and YAML style; neither does the digest', () => {
    const permutation = (length: number) => fc.shuffledSubarray([...Array(length).keys()], { minLength: length, maxLength: length });
    const layoutArb = rulesArb.chain((rules) =>
      fc.record({
        rules: fc.constant(rules),
        parts: fc.integer({ min: 1, max: 3 }),
        ruleOrder: permutation(rules.length),
        fileOrder: permutation(3),
        prefix: fc.constantFrom('a', 'm', 'z'),
        flow: fc.boolean(),
      }),
    );
    /** Rule i stays in document i % parts (its id is kept); documents' rules and the files are listed in the given orders. */
    const layout = (spec: { rules: readonly GeneratedRule[]; parts: number; ruleOrder: readonly number[]; fileOrder: readonly number[]; prefix: string; flow: boolean }): PolicyFile[] => {
      const documents = Array.from({ length: spec.parts }, (_, doc) => ({
        path: `${spec.prefix}-${spec.fileOrder[doc] ?? doc}.yaml`,
        text: stringify(
          {
            apiVersion: 'interlock.dev/v1',
            kind: 'Policy',
            metadata: { name: `policy-${doc}` },
            spec: { rules: spec.ruleOrder.filter((index) => index % spec.parts === doc).map((index) => ruleDocument(spec.rules[index] as GeneratedRule)) },
          },
          spec.flow ? { collectionStyle: 'flow' } : {},
        ),
      }));
      return spec.fileOrder.filter((index) => index < spec.parts).map((index) => documents[index] as PolicyFile);
    };
    fc.assert(
      fc.property(layoutArb, permutation(3), fc.constantFrom('b', 'y'), inputArb, (spec, otherOrder, otherPrefix, input) => {
        const original = compilePolicySet(layout({ ...spec, ruleOrder: [...spec.ruleOrder].sort((a, b) => a - b), fileOrder: [0, 1, 2], flow: false }), { defaults: SHIPPED_DEFAULT_EFFECTS });
        const shuffled = compilePolicySet(layout({ ...spec, fileOrder: otherOrder, prefix: otherPrefix }), { defaults: SHIPPED_DEFAULT_EFFECTS });
        expect(shuffled.digest).toBe(original.digest);
        expect(shuffled.decide(input)).toEqual(original.decide(input));
        expect(shuffled.explain(input).rules.map((rule) => [rule.rule.id, rule.outcome])).toEqual(original.explain(input).rules.map((rule) => [rule.rule.id, rule.outcome]));
      }),
      { numRuns: 100 },
    );
  });

  it('have a digest that changes with any change to a rule', () => {
    const mutations: ReadonlyArray<(rule: GeneratedRule) => GeneratedRule> = [
      (rule) => ({ ...rule, effect: EFFECTS[(EFFECTS.indexOf(rule.effect) + 1) % EFFECTS.length] ?? 'allow' }),
      (rule) => ({ ...rule, join: rule.join === '&&' ? '||' : '&&' }),
      (rule) => ({ ...rule, name: `${rule.name}x` }),
      (rule) => ({ ...rule, effect: 'require_approval', quorum: rule.effect === 'require_approval' ? rule.quorum + 1 : rule.quorum }),
      (rule) => ({ ...rule, effect: 'require_approval', expiresHours: rule.effect === 'require_approval' ? rule.expiresHours + 1 : rule.expiresHours }),
    ];
    fc.assert(
      fc.property(rulesArb.filter((rules) => rules.length > 0), fc.nat(), fc.nat(mutations.length - 1), (rules, which, mutation) => {
        const index = which % rules.length;
        const changed = rules.map((rule, ruleIndex) => (ruleIndex === index ? (mutations[mutation] as (rule: GeneratedRule) => GeneratedRule)(rule) : rule));
        const before = compilePolicySet(files(rules, 2, (doc) => `f${doc}.yaml`), { defaults: SHIPPED_DEFAULT_EFFECTS });
        const after = compilePolicySet(files(changed, 2, (doc) => `f${doc}.yaml`), { defaults: SHIPPED_DEFAULT_EFFECTS });
        expect(after.digest).not.toBe(before.digest);
      }),
      { numRuns: 150 },
    );
  });

  it('have a digest that ignores comments and formatting but not the message', () => {
    const base = { apiVersion: 'interlock.dev/v1', kind: 'Policy', metadata: { name: 'p' }, spec: { rules: [{ name: 'r', match: 'risk == "read"', effect: 'allow', message: 'm' }] } };
    const digest = (text: string) => compilePolicySet([{ path: 'p.yaml', text }], { defaults: SHIPPED_DEFAULT_EFFECTS }).digest;
    const plain = digest(stringify(base));
    expect(digest(`# a comment\n${stringify(base, { collectionStyle: 'flow' })}`)).toBe(plain);
    expect(digest(stringify({ ...base, spec: { rules: [{ ...base.spec.rules[0], message: 'n' }] } }))).not.toBe(plain);
  });
});
