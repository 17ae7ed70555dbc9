import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApprovalBinding } from '../ports.js';
import { bindingHash, canonicalJson } from './binding-hash.js';

const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
const args = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }) as fc.Arbitrary<Record<string, unknown>>;
const nullableText = fc.option(fc.string({ maxLength: 12 }), { nil: null });
const target = fc.record({ service: nullableText, environment: nullableText, tier: nullableText, labels: fc.dictionary(key, fc.string({ maxLength: 8 }), { maxKeys: 3 }) });
const action = fc.record({ stepId: fc.string({ minLength: 1, maxLength: 8 }), tool: fc.string({ minLength: 1, maxLength: 20 }), args, target });
const binding: fc.Arbitrary<ApprovalBinding> = fc.record({
  missionId: fc.uuid(),
  project: fc.string({ minLength: 1, maxLength: 12 }),
  actions: fc.array(action, { minLength: 1, maxLength: 3 }),
  policyDigest: fc.stringMatching(/^[0-9a-f]{64}$/),
});

/** `value` rebuilt with every object's keys in reverse insertion order. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)]));
  return value;
}

describe('canonicalJson (RFC 8785)', () => {
  it('serialises the RFC 8785 §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = JSON.parse('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew", "1": "One", "\\ud83d\\ude00": "Emoji", "\\u0080": "Control", "\\u00f6": "o umlaut"}') as Record<string, string>;
    expect(canonicalJson(input)).toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"o umlaut","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji","\ufb33":"Hebrew"}');
  });

  it('writes numbers in their shortest ECMAScript form: 1.0 → 1, -0 → 0, 1e21 → 1e+21, 1e-7 → 1e-7', () => {
    expect(canonicalJson([1.0, -0, 1e21, 1e20, 1e-7, 0.1 + 0.2, 5e-324])).toBe('[1,0,1e+21,100000000000000000000,1e-7,0.30000000000000004,5e-324]');
  });

  it('refuses values JSON cannot represent with INTERNAL', () => {
    for (const value of [{ a: Number.NaN }, { a: Number.POSITIVE_INFINITY }, undefined]) {
      expect(() => canonicalJson(value), JSON.stringify(value)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    }
    expect(() => canonicalJson({ a: 1n })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});

describe('bindingHash', () => {
  it('is the SHA-256 hex of the canonical JSON', () => {
    fc.assert(
      fc.property(binding, (b) => {
        expect(bindingHash(b)).toBe(createHash('sha256').update(canonicalJson(b), 'utf8').digest('hex'));
        expect(bindingHash(b)).toMatch(/^[0-9a-f]{64}$/);
      }),
    );
  });

  it('does not depend on the order of keys, at any depth', () => {
    fc.assert(
      fc.property(binding, (b) => {
        expect(bindingHash(reversed(b) as ApprovalBinding)).toBe(bindingHash(b));
      }),
    );
  });

  it('does not depend on how a number was written (1.0 and 1, -0 and 0, 1e21 and 1000000000000000000000)', () => {
    const base: ApprovalBinding = { missionId: '6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11', project: 'shop', policyDigest: 'a'.repeat(64), actions: [] };
    const withArgs = (text: string): ApprovalBinding => ({ ...base, actions: [{ stepId: 's1', tool: 't', args: JSON.parse(text) as Record<string, unknown>, target: { service: null, environment: null, tier: null, labels: {} } }] });
    expect(bindingHash(withArgs('{"n": 1.0, "z": -0, "big": 1e21, "small": 2e-3}'))).toBe(bindingHash(withArgs('{"small": 0.002, "big": 1000000000000000000000, "z": 0, "n": 1}')));
    expect(bindingHash(withArgs('{"n": 1}'))).not.toBe(bindingHash(withArgs('{"n": "1"}')));
  });

  it('does not normalise unicode: é (U+00E9) and e + U+0301 are different actions; escapes are not', () => {
    const make = (service: string): ApprovalBinding => ({ missionId: 'm', project: 'p', policyDigest: 'd', actions: [{ stepId: 's1', tool: 't', args: {}, target: { service, environment: null, tier: null, labels: {} } }] });
    expect(bindingHash(make('caf\u00e9'))).not.toBe(bindingHash(make('cafe\u0301')));
    expect(bindingHash(make(JSON.parse('"caf\\u00e9"') as string))).toBe(bindingHash(make('café')));
  });

  it('[GOV-APPROVAL-BINDING] changes when the mission, the project, the policy digest, or any action\'s step, tool, arguments or target change', () => {
    const mutations: Array<[string, (b: ApprovalBinding) => ApprovalBinding]> = [
      ['mission', (b) => ({ ...b, missionId: `${b.missionId}x` })],
      ['project', (b) => ({ ...b, project: `${b.project}x` })],
      ['policyDigest', (b) => ({ ...b, policyDigest: `${b.policyDigest}0` })],
      ['stepId', (b) => ({ ...b, actions: b.actions.map((a, i) => (i === 0 ? { ...a, stepId: `${a.stepId}x` } : a)) })],
      ['tool', (b) => ({ ...b, actions: b.actions.map((a, i) => (i === 0 ? { ...a, tool: `${a.tool}x` } : a)) })],
      ['args (one more key)', (b) => ({ ...b, actions: b.actions.map((a, i) => (i === 0 ? { ...a, args: { ...a.args, 'added-by-test': 1 } } : a)) })],
      ['args (a value)', (b) => ({ ...b, actions: b.actions.map((a, i) => (i === 0 ? { ...a, args: { ...a.args, amount: JSON.stringify(a.args.amount ?? null) + '!' } } : a)) })],
      ['target', (b) => ({ ...b, actions: b.actions.map((a, i) => (i === 0 ? { ...a, target: { ...a.target, environment: `${a.target.environment ?? ''}x` } } : a)) })],
      ['an action dropped', (b) => ({ ...b, actions: b.actions.slice(1) })],
      ['actions reordered', (b) => ({ ...b, actions: [...b.actions].reverse() })],
    ];
    fc.assert(
      fc.property(binding, fc.constantFrom(...mutations), (b, [name, mutate]) => {
        const changed = mutate(b);
        fc.pre(canonicalJson(changed) !== canonicalJson(b)); // reversing one action, or two equal ones, changes nothing
        expect(bindingHash(changed), name).not.toBe(bindingHash(b));
      }),
    );
  });
});
