import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { emptyEvidenceBundle, parseEvidenceBundle, type EvidenceBundle } from './evidence.js';

const WINDOW = { startMs: Date.parse('2026-03-25T08:00:00Z'), endMs: Date.parse('2026-03-25T10:00:00Z') };

function issuesOf(value: unknown): string[] {
  try {
    parseEvidenceBundle(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe('INPUT_INVALID');
    return ((error as InputError).details.issues as Array<{ path: string }>).map((issue) => issue.path);
  }
  return [];
}

describe('parseEvidenceBundle', () => {
  it('accepts an empty bundle and a bundle of every kind of item', () => {
    expect(parseEvidenceBundle(emptyEvidenceBundle(WINDOW))).toEqual(emptyEvidenceBundle(WINDOW));
    const bundle: EvidenceBundle = {
      window: WINDOW,
      onsetMs: WINDOW.startMs + 3_600_000,
      signals: [{ evidence: { id: 'a', source: 'alertmanager', query: '' }, name: 'HighErrorRate', labels: { service: 'checkout' }, annotations: {}, status: 'firing', startsAt: WINDOW.startMs, endsAt: null }],
      series: [{ evidence: { id: 's', source: 'prometheus', query: 'up', resultSha256: 'a'.repeat(64) }, labels: {}, service: 'checkout', role: 'error_rate', points: [[WINDOW.startMs, 0.01], [WINDOW.startMs + 30_000, null]] }],
      changes: [{ evidence: { id: 'c', source: 'git', query: '' }, at: WINDOW.startMs, service: 'checkout', kind: 'deploy', summary: 'deploy', ref: 'abc123' }],
      logs: [{ evidence: { id: 'l', source: 'loki', query: '{service="checkout"}' }, service: 'checkout', lines: [{ at: WINDOW.startMs, level: 'ERROR', message: 'boom' }] }],
      latencySamples: [{ evidence: { id: 'x', source: 'prometheus', query: '' }, service: 'checkout', group: 'canary', values: [1, 2, null] }],
    };
    expect(parseEvidenceBundle(bundle)).toEqual(bundle);
  });

  it('names every wrong field: repeated IDs, an onset outside the window, NaN, unknown fields, a bad digest', () => {
    const paths = issuesOf({
      ...emptyEvidenceBundle(WINDOW),
      onsetMs: WINDOW.endMs + 1,
      series: [
        { evidence: { id: 'dup', source: 'prometheus', query: '' }, labels: {}, role: 'cpu', points: [[WINDOW.startMs, Number.NaN]] },
        { evidence: { id: 'dup', source: 'prometheus', query: '', resultSha256: 'XYZ' }, labels: {}, role: 'gpu', points: [], extra: true },
      ],
    });
    expect(paths).toEqual(expect.arrayContaining(['onsetMs', 'series.0.points.0.1', 'series.1.role', 'series.1.evidence.resultSha256', 'series.1', 'series.1.evidence.id']));
  });

  it('refuses a window that does not move forward', () => {
    expect(issuesOf(emptyEvidenceBundle({ startMs: WINDOW.endMs, endMs: WINDOW.startMs }))).toContain('window');
  });
});
