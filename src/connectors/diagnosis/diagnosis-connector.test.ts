import { describe, expect, it } from 'vitest';
import type { MissionStep } from '../../core/missions/mission.js';
import { buildEvidenceBundle, histogramLatencySamples } from './diagnosis-connector.js';
import { planIncidentDiagnosis } from './diagnosis-plan.js';

const OPTIONS = { groupLabel: 'version', canaryMatch: 'canary', unitSeconds: true };
const bucket = (version: string, le: string, value: number) => ({ labels: { version, le }, value });

describe('histogramLatencySamples', () => {
  it('turns cumulative bucket counts into values at bucket midpoints, in ms, per group', () => {
    const { canary, baseline } = histogramLatencySamples([
      bucket('1.4.0', '0.1', 3), bucket('1.4.0', '0.5', 4), bucket('1.4.0', '+Inf', 4),
      bucket('1.5.0-canary', '0.1', 0), bucket('1.5.0-canary', '0.5', 2), bucket('1.5.0-canary', '+Inf', 3),
    ], OPTIONS);
    expect(baseline).toEqual([50, 50, 50, 300]);
    // The +Inf bucket counts at 1.5 times its lower bound (0.5 s).
    expect(canary).toEqual([300, 300, 750]);
  });

  it('adds several baseline versions up, scales large counts down, and skips what does not parse', () => {
    const many = histogramLatencySamples([bucket('a', '1', 6000), bucket('b', '1', 6000), bucket('a', 'x', 1), { labels: { le: '1' }, value: 5 }], OPTIONS);
    expect(many.baseline).toHaveLength(5000);
    expect(many.canary).toEqual([]);
  });
});

describe('latency evidence', () => {
  it('is planned as one instant histogram query per service since the onset, and read into canary and baseline samples', () => {
    const now = 1_800_000_000_000;
    const plan = planIncidentDiagnosis({
      incidentId: '6f1c2d3e-0000-4000-8000-000000000001',
      incident: { alerts: [{ labels: { service: 'checkout' } }], openedAt: now - 60_000 } as never,
      signals: [{ startsAt: now - 120_000 }],
      settings: { windowBeforeMs: 600_000, stepSeconds: 15, queries: [], changes: false, logs: false, latency: { query: 'sum by (le, version) (increase(h_bucket{service="$service"}[$range]))', ...OPTIONS } },
      hasTool: (name) => name === 'prometheus.query',
      now,
    });
    expect(plan.context).toEqual([{ id: 'latency-1', tool: 'prometheus.query', args: { query: 'sum by (le, version) (increase(h_bucket{service="checkout"}[120s]))', time: now } }]);
    const step = { stepId: 'latency-1', tool: 'prometheus.query', status: 'succeeded', args: plan.context[0]!.args, error: null, result: { series: [
      { labels: { version: '1.4.0', le: '0.1' }, values: [[now, 2]] }, { labels: { version: '1.4.0', le: '+Inf' }, values: [[now, 2]] },
      { labels: { version: '1.5.0-canary', le: '0.1' }, values: [[now, 0]] }, { labels: { version: '1.5.0-canary', le: '+Inf' }, values: [[now, 1]] },
    ] } } as unknown as MissionStep;
    const { bundle, unavailable } = buildEvidenceBundle(plan.run, [], new Map([['latency-1', step]]));
    expect(unavailable).toEqual([]);
    expect(bundle.latencySamples.map((s) => [s.service, s.group, s.values])).toEqual([['checkout', 'canary', [150]], ['checkout', 'baseline', [50, 50]]]);
  });
});
