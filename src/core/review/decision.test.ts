import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RISK_CLASSES } from '../tools/tool.js';
import { EFFECTS, combineDecisions, defaultDecision, type Decision } from './decision.js';

const decisionArb = fc.record({
  effect: fc.constantFrom(...EFFECTS),
  reasons: fc.array(fc.record({ rule: fc.string({ minLength: 1 }), effect: fc.constantFrom(...EFFECTS), message: fc.string() }), { maxLength: 3 }),
}) as fc.Arbitrary<Decision>;
const fallback: Decision = { effect: 'allow', reasons: [] };

describe('combineDecisions', () => {
  it('[GOV-PRECEDENCE] returns the most restrictive effect present (deny > escalate > require_approval > allow)', () => {
    fc.assert(fc.property(fc.array(decisionArb, { minLength: 1 }), (decisions) => {
      const combined = combineDecisions(decisions, fallback);
      const rank = (d: Decision) => EFFECTS.indexOf(d.effect);
      expect(rank(combined)).toBe(Math.max(...decisions.map(rank)));
    }));
  });

  it('does not depend on the order of the decisions', () => {
    const pairs = fc.array(decisionArb, { minLength: 1 }).chain((decisions) =>
      fc.tuple(fc.constant(decisions), fc.shuffledSubarray(decisions, { minLength: decisions.length, maxLength: decisions.length })));
    fc.assert(fc.property(pairs, ([decisions, shuffled]) => {
      expect(combineDecisions(shuffled, fallback).effect).toBe(combineDecisions(decisions, fallback).effect);
    }));
  });

  it('keeps each distinct reason of the decisions with the winning effect once, and no other reason', () => {
    fc.assert(fc.property(fc.array(decisionArb, { minLength: 1 }), (decisions) => {
      const combined = combineDecisions(decisions, fallback);
      const key = (r: { rule: string; message: string }) => JSON.stringify([r.rule, r.message]);
      const expected = new Set(decisions.filter((d) => d.effect === combined.effect).flatMap((d) => d.reasons.map(key)));
      expect(combined.reasons.map(key)).toEqual([...expected]);
    }));
  });

  it('returns the fallback for no decisions', () => {
    expect(combineDecisions([], fallback)).toBe(fallback);
  });
});

describe('defaultDecision', () => {
  it('requires approval for write-prod and allows the other classes, naming the rule', () => {
    expect(RISK_CLASSES.map((risk) => defaultDecision(risk).effect)).toEqual(['allow', 'allow', 'allow', 'require_approval']);
    expect(defaultDecision('write-prod').reasons[0]?.rule).toBe('default/write-prod');
  });
});
