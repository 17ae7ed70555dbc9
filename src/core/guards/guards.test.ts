import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyAutonomy, resolveAutonomy } from './autonomy.js';
import { breakerTrips, rateLimitAllowsAt, type ActionRecord } from './breaker.js';
import { isKillSwitchScope, killSwitchScopes } from './kill-switch.js';

const action = (at: number, stateHash = 's', targetKey = 'checkout@prod'): ActionRecord => ({ missionId: `m${at}`, stepId: 's1', tool: 'k8s.set-memory', targetKey, agent: 'a', stateHash, at });

describe('circuit breaker', () => {
  it('trips on the Xth action on one target within the window while the state stays the same', () => {
    const settings = { maxActions: 3, windowMs: 60_000 };
    const next = { missionId: 'next', tool: 'k8s.set-memory', targetKey: 'checkout@prod', stateHash: 's', at: 10_000 };
    expect(breakerTrips([action(1000)], next, settings)).toBe(false);
    expect(breakerTrips([action(1000), action(5000)], next, settings)).toBe(true);
  });

  it('does not count actions after which the state changed, on other targets, or outside the window', () => {
    const settings = { maxActions: 3, windowMs: 60_000 };
    const next = { missionId: 'next', tool: 'k8s.set-memory', targetKey: 'checkout@prod', stateHash: 's', at: 100_000 };
    expect(breakerTrips([action(1000), action(90_000)], next, settings)).toBe(false);
    expect(breakerTrips([action(95_000, 'other'), action(96_000)], next, settings)).toBe(false);
    expect(breakerTrips([action(95_000, 's', 'payments@prod'), action(96_000)], next, settings)).toBe(false);
    expect(breakerTrips([{ ...action(95_000), missionId: 'next' }, { ...action(96_000), missionId: 'next' }], next, settings)).toBe(false);
  });
});

describe('rate limit', () => {
  it('never allows more than max actions in any window', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (raw, max) => {
      const limit = { max, windowMs: 10_000 };
      const times: number[] = [];
      for (const t of [...raw].sort((a, b) => a - b)) {
        const at = Math.max(t, rateLimitAllowsAt(times, t, limit));
        times.push(at);
        expect(times.filter((x) => at - x < limit.windowMs).length).toBeLessThanOrEqual(max);
      }
    }));
  });
});

describe('autonomy', () => {
  const rules = [{ tool: 'supervisor.*', level: 'auto' as const }, { tier: 'critical', level: 'approve' as const }, { risk: 'write-prod' as const, tool: 'postgres.restart', level: 'suggest' as const }];
  it('takes the lowest level among matching rules', () => {
    expect(resolveAutonomy(rules, 'auto', { tool: 'supervisor.restart', risk: 'write-low', tier: 'standard' }).level).toBe('auto');
    expect(resolveAutonomy(rules, 'auto', { tool: 'supervisor.restart', risk: 'write-low', tier: 'critical' })).toEqual({ level: 'approve', rule: 'autonomy/2' });
    expect(resolveAutonomy(rules, 'auto-notify', { tool: 'nginx.reload', risk: 'write-low', tier: null })).toEqual({ level: 'auto-notify', rule: 'default' });
    expect(resolveAutonomy(rules, 'auto', { tool: 'postgres.restart', risk: 'write-prod', tier: 'critical' }).level).toBe('suggest');
  });

  it('only ever makes a decision stricter', () => {
    const allow = { effect: 'allow' as const, reasons: [] };
    expect(applyAutonomy(allow, { level: 'approve', rule: 'autonomy/1' }).effect).toBe('require_approval');
    expect(applyAutonomy({ effect: 'deny' as const, reasons: [] }, { level: 'approve', rule: 'autonomy/1' }).effect).toBe('deny');
    expect(applyAutonomy(allow, { level: 'auto', rule: 'default' })).toBe(allow);
  });
});

describe('kill switch scopes', () => {
  it('covers a mission globally, by project and by agent', () => {
    expect(killSwitchScopes({ project: 'shop', agent: 'triage-1' })).toEqual(['global', 'project:shop', 'agent:triage-1']);
    expect(killSwitchScopes({ project: 'shop', agent: null })).toEqual(['global', 'project:shop']);
    expect(['global', 'project:shop', 'agent:x'].every(isKillSwitchScope)).toBe(true);
    expect(['everything', 'project:', 'project:Shop!'].some(isKillSwitchScope)).toBe(false);
  });
});
