import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Signal } from '../signals/signal.js';
import { applySignal, groupKeyOf, sweepIncident, type IncidentSettings, type IncidentState } from './incident.js';

const settings: IncidentSettings = { groupBy: ['service'], reopenWindowMs: 5 * 60_000, flapping: { maxTransitions: 4, windowMs: 10 * 60_000 }, maxAlerts: 100 };

function signal(overrides: Partial<Signal> = {}): Signal {
  return {
    source: 'alertmanager', kind: 'alertmanager', fingerprint: 'aaaa000000000001', status: 'firing', name: 'HighErrorRate',
    labels: { alertname: 'HighErrorRate', service: 'checkout', instance: 'a' }, annotations: {}, startsAt: 0, endsAt: null, generatorURL: null,
    ...overrides,
  };
}

/** Applies signals in order at the given times; returns the last state and every event. */
function run(steps: ReadonlyArray<readonly [number, Partial<Signal>]>): { incident: IncidentState | undefined; events: string[][] } {
  let incident: IncidentState | undefined;
  const events: string[][] = [];
  for (const [at, overrides] of steps) {
    const decision = applySignal(incident, signal(overrides), at, settings);
    incident = decision.incident;
    events.push([...decision.events]);
  }
  return { incident, events };
}

describe('groupKeyOf', () => {
  it('groups by source, name and the groupBy labels present, whatever their order', () => {
    expect(groupKeyOf(signal(), ['service'])).toBe('alertmanager|alertname="HighErrorRate"|service="checkout"');
    expect(groupKeyOf(signal({ labels: { service: 'checkout', alertname: 'HighErrorRate' } }), ['service', 'zone'])).toBe('alertmanager|alertname="HighErrorRate"|service="checkout"');
    expect(groupKeyOf(signal({ labels: { alertname: 'HighErrorRate', service: 'payments' } }), ['service'])).not.toBe(groupKeyOf(signal(), ['service']));
  });
});

describe('applySignal', () => {
  it('opens on firing, de-duplicates repeats, joins new alerts, resolves when every alert has', () => {
    const { incident, events } = run([
      [1000, {}],
      [2000, {}],
      [3000, { fingerprint: 'aaaa000000000002', labels: { alertname: 'HighErrorRate', service: 'checkout', instance: 'b' } }],
      [4000, { status: 'resolved' }],
      [5000, { fingerprint: 'aaaa000000000002', status: 'resolved' }],
      [6000, { fingerprint: 'aaaa000000000002', status: 'resolved' }],
    ]);
    expect(events).toEqual([['opened'], ['duplicate'], ['joined'], ['changed'], ['changed', 'resolved'], ['duplicate']]);
    expect(incident).toMatchObject({ status: 'resolved', resolvedAt: 5000, openedAt: 1000, lastSignalAt: 6000 });
    expect(incident!.alerts.map((a) => [a.fingerprint, a.status, a.received])).toEqual([['aaaa000000000001', 'resolved', 3], ['aaaa000000000002', 'resolved', 3]]);
  });

  it('ignores a resolved signal with no open incident', () => {
    expect(run([[1000, { status: 'resolved' }]]).events).toEqual([['ignored']]);
  });

  it('reopens within the reopen window, opens a new incident after it', () => {
    const within = run([[0, {}], [1000, { status: 'resolved' }], [1000 + settings.reopenWindowMs, {}]]);
    expect(within.events.at(-1)).toEqual(['reopened', 'changed']);
    expect(within.incident).toMatchObject({ status: 'open', openedAt: 0, resolvedAt: null });
    const after = run([[0, {}], [1000, { status: 'resolved' }], [1001 + settings.reopenWindowMs, {}]]);
    expect(after.events.at(-1)).toEqual(['opened']);
    expect(after.incident).toMatchObject({ status: 'open', openedAt: 1001 + settings.reopenWindowMs });
  });

  it('marks a flapping incident, keeps it open, and the sweep resolves it once quiet', () => {
    const flips = Array.from({ length: 6 }, (_, i) => [i * 1000, { status: i % 2 === 0 ? 'firing' : 'resolved' }] as const);
    const { incident, events } = run(flips);
    expect(events.flat()).toContain('flapping');
    expect(events.flat().filter((e) => e === 'resolved')).toHaveLength(2); // at t=1000 and 3000, before it was flapping
    expect(incident).toMatchObject({ status: 'open', flapping: true });
    expect(sweepIncident(incident!, 5000 + settings.flapping.windowMs - 1, settings).events).toEqual([]);
    expect(sweepIncident(incident!, 5000 + settings.flapping.windowMs, settings)).toMatchObject({ events: ['resolved'], incident: { status: 'resolved', flapping: false } });
  });

  it('counts alerts beyond maxAlerts without tracking them', () => {
    let incident: IncidentState | undefined;
    for (let i = 0; i < 5; i++) incident = applySignal(incident, signal({ fingerprint: `f${i}` }), i, { ...settings, maxAlerts: 3 }).incident;
    expect(incident!.alerts).toHaveLength(3);
    expect(incident!.untracked).toBe(2);
  });

  it('never loses an alert and stays consistent under any sequence of signals', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('f1', 'f2', 'f3'), fc.constantFrom<'firing' | 'resolved'>('firing', 'resolved'), fc.integer({ min: 0, max: 120_000 })), { maxLength: 60 }), (sequence) => {
      let incident: IncidentState | undefined;
      let now = 0;
      for (const [fingerprint, status, gap] of sequence) {
        now += gap;
        incident = applySignal(incident, signal({ fingerprint, status }), now, settings).incident;
        if (incident === undefined) continue;
        expect(new Set(incident.alerts.map((a) => a.fingerprint)).size).toBe(incident.alerts.length);
        if (incident.status === 'resolved') expect(incident.alerts.every((a) => a.status === 'resolved')).toBe(true);
        expect(incident.resolvedAt === null).toBe(incident.status === 'open');
      }
    }));
  });
});
