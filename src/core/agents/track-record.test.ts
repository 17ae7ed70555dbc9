import { describe, expect, it } from 'vitest';
import { computeTrackRecord, DEFAULT_TRACK_RECORD_WINDOW_MS, isCorrected, suggestAutonomy, type MissionFacts, type TrackRecordFigures } from './track-record.js';

const NOW = Date.parse('2026-03-25T03:00:00Z');
const SINCE = NOW - DEFAULT_TRACK_RECORD_WINDOW_MS;
let n = 0;

/** A mission the agent `fixer` proposed an hour ago, resolved with its one verification passed, unless told otherwise. */
function mission(overrides: Partial<MissionFacts> = {}): MissionFacts {
  n += 1;
  return {
    missionId: `m${n}`, project: 'shop', agent: 'fixer', runbook: null, runbookVersion: null, createdAt: NOW - 3_600_000, outcome: 'resolved',
    approvalRequests: 1, approvalsGranted: 1, approvalsDenied: 0, cancelledByPerson: false, verificationSteps: 1, verificationsPassed: 1, verificationFailed: false,
    ...overrides,
  };
}

function figuresOf(facts: MissionFacts[], agent = 'fixer') {
  return computeTrackRecord({ facts, since: SINCE, until: NOW, ceilings: new Map([[agent, 'approve']]) }).agents.find((a) => a.agent === agent)!;
}

describe('computeTrackRecord', () => {
  it('counts proposals, approvals, denials, verified successes, failed verifications, escalations and shadowed per agent', () => {
    const record = figuresOf([
      mission(),
      mission(),
      mission({ outcome: 'denied', approvalsGranted: 0, approvalsDenied: 1 }),
      mission({ outcome: 'escalated', verificationsPassed: 0, verificationFailed: true }),
      mission({ outcome: 'escalated', approvalRequests: 0, approvalsGranted: 0, verificationSteps: 0, verificationsPassed: 0 }),
      mission({ outcome: 'shadowed', approvalRequests: 0, approvalsGranted: 0, verificationsPassed: 0 }),
      mission({ outcome: 'suggested', approvalRequests: 0, approvalsGranted: 0, verificationsPassed: 0 }),
      mission({ outcome: null, approvalsGranted: 0, verificationsPassed: 0 }),
    ]);
    expect(record).toMatchObject({
      agent: 'fixer', projects: ['shop'], autonomyCeiling: 'approve',
      proposals: 8, approved: 3, denied: 1, corrections: 1, verifiedSuccesses: 2, failedVerifications: 1, escalations: 2, shadowed: 2, judged: 5, successRate: 0.4,
    });
  });

  it('counts a correction once per mission: a denial, a cancellation by a person, or a re-approval after the re-check before execution (GOV-RECHECK)', () => {
    const record = figuresOf([
      mission({ outcome: 'cancelled', cancelledByPerson: true, verificationsPassed: 0 }),
      mission({ approvalRequests: 2, approvalsGranted: 2 }),
      mission({ outcome: 'denied', approvalRequests: 2, approvalsGranted: 1, approvalsDenied: 1 }),
      mission({ outcome: 'cancelled', cancelledByPerson: false, verificationsPassed: 0 }),
    ]);
    expect(record.corrections).toBe(3);
    expect(record.approved).toBe(5);
    // The re-approved mission resolved and verified: a success, though a correction.
    expect(record.verifiedSuccesses).toBe(1);
    // The machine's cancellation judges nothing; the person's does.
    expect(record.judged).toBe(3);
    expect(isCorrected(mission({ approvalRequests: 1 }))).toBe(false);
  });

  it('does not count a resolved mission without a verification step, or with one that did not pass, as a verified success', () => {
    const record = figuresOf([mission({ verificationSteps: 0, verificationsPassed: 0 }), mission({ verificationSteps: 2, verificationsPassed: 1 })]);
    expect(record.verifiedSuccesses).toBe(0);
    expect(record.successRate).toBeNull();
  });

  it('groups by runbook (every version together) as well as by agent, and ignores missions outside the window', () => {
    const record = computeTrackRecord({
      since: SINCE, until: NOW,
      facts: [
        mission({ agent: null, runbook: 'restart-on-leak', runbookVersion: 2 }),
        mission({ agent: 'fixer', runbook: 'restart-on-leak', runbookVersion: 1, project: 'ops' }),
        mission({ agent: null, runbook: 'restart-on-leak', runbookVersion: 2, createdAt: SINCE - 1 }),
        mission({ agent: 'other', createdAt: NOW + 1 }),
      ],
    });
    expect(record.agents.map((a) => [a.agent, a.proposals, a.autonomyCeiling])).toEqual([['fixer', 1, null]]);
    expect(record.runbooks).toHaveLength(1);
    expect(record.runbooks[0]).toMatchObject({ runbook: 'restart-on-leak', versions: [1, 2], projects: ['ops', 'shop'], proposals: 2, verifiedSuccesses: 2 });
    expect(record.runbooks[0]!.suggestion).toEqual({ action: 'supports', from: null, to: 'approve', text: expect.stringContaining('supports approve: 2 verified successes, 0 corrections') });
  });
});

describe('suggestAutonomy', () => {
  const base: TrackRecordFigures = { proposals: 0, approved: 0, denied: 0, corrections: 0, verifiedSuccesses: 0, failedVerifications: 0, escalations: 0, shadowed: 0, judged: 0, successRate: null };
  const f = (overrides: Partial<TrackRecordFigures>): TrackRecordFigures => {
    const merged = { ...base, ...overrides };
    return { ...merged, judged: overrides.judged ?? merged.verifiedSuccesses, successRate: overrides.successRate ?? (merged.verifiedSuccesses > 0 ? 1 : null) };
  };

  it('raises approve to auto-notify after 20 verified successes without a correction, with the evidence', () => {
    expect(suggestAutonomy(f({ verifiedSuccesses: 20, proposals: 20 }), 'approve', DEFAULT_TRACK_RECORD_WINDOW_MS)).toEqual({
      action: 'raise', from: 'approve', to: 'auto-notify', text: 'raise to auto-notify: 20 verified successes, 0 corrections, 0 failed verifications in the last 30 days',
    });
  });

  it('keeps approve at 19 verified successes, or with one correction, saying what is missing', () => {
    expect(suggestAutonomy(f({ verifiedSuccesses: 19 }), 'approve', DEFAULT_TRACK_RECORD_WINDOW_MS).text).toBe('keep approve: 19 of the 20 verified successes auto-notify needs in the last 30 days');
    const corrected = suggestAutonomy(f({ verifiedSuccesses: 30, corrections: 1 }), 'approve', DEFAULT_TRACK_RECORD_WINDOW_MS);
    expect(corrected).toMatchObject({ action: 'keep', to: 'approve' });
    expect(corrected.text).toContain('1 correction');
  });

  it('climbs one rung at a time: auto-notify to auto needs 50 verified successes and a 98% success rate', () => {
    expect(suggestAutonomy(f({ verifiedSuccesses: 60 }), 'approve', DEFAULT_TRACK_RECORD_WINDOW_MS).to).toBe('auto-notify');
    expect(suggestAutonomy(f({ verifiedSuccesses: 60 }), 'auto-notify', DEFAULT_TRACK_RECORD_WINDOW_MS).to).toBe('auto');
    expect(suggestAutonomy(f({ verifiedSuccesses: 60, judged: 62, successRate: 60 / 62 }), 'auto-notify', DEFAULT_TRACK_RECORD_WINDOW_MS)).toMatchObject({ action: 'keep', to: 'auto-notify' });
    expect(suggestAutonomy(f({ verifiedSuccesses: 60 }), 'auto', DEFAULT_TRACK_RECORD_WINDOW_MS)).toMatchObject({ action: 'keep', to: 'auto' });
  });

  it('raises suggest to approve after 10 shadowed proposals nobody corrected', () => {
    expect(suggestAutonomy(f({ shadowed: 10 }), 'suggest', 7 * 86_400_000).text).toBe('raise to approve: 10 shadowed proposals, 0 corrections in the last 7 days');
    expect(suggestAutonomy(f({ shadowed: 9 }), 'suggest', 7 * 86_400_000).action).toBe('keep');
  });

  it('lowers one rung on 2 failed verifications, 3 corrections or a success rate below 80%, whatever else it did', () => {
    expect(suggestAutonomy(f({ verifiedSuccesses: 60, failedVerifications: 2 }), 'auto', DEFAULT_TRACK_RECORD_WINDOW_MS)).toEqual({
      action: 'lower', from: 'auto', to: 'auto-notify', text: 'lower to auto-notify: 2 failed verifications in the last 30 days',
    });
    expect(suggestAutonomy(f({ corrections: 3 }), 'approve', 12 * 3_600_000)).toMatchObject({ action: 'lower', to: 'suggest', text: 'lower to suggest: 3 corrections in the last 12 hours' });
    expect(suggestAutonomy(f({ verifiedSuccesses: 3, judged: 5, successRate: 0.6 }), 'auto-notify', DEFAULT_TRACK_RECORD_WINDOW_MS).text).toBe('lower to approve: 60% success over 5 judged missions in the last 30 days');
    // Too few judged missions to say.
    expect(suggestAutonomy(f({ verifiedSuccesses: 1, judged: 4, successRate: 0.25 }), 'auto-notify', DEFAULT_TRACK_RECORD_WINDOW_MS).action).toBe('keep');
    expect(suggestAutonomy(f({ corrections: 5 }), 'suggest', DEFAULT_TRACK_RECORD_WINDOW_MS)).toMatchObject({ action: 'keep', to: 'suggest' });
  });

  it('without a current level says which rung the evidence supports', () => {
    expect(suggestAutonomy(f({ verifiedSuccesses: 25 }), null, DEFAULT_TRACK_RECORD_WINDOW_MS)).toMatchObject({ action: 'supports', from: null, to: 'auto-notify' });
    expect(suggestAutonomy(f({ verifiedSuccesses: 50 }), null, DEFAULT_TRACK_RECORD_WINDOW_MS).to).toBe('auto');
    expect(suggestAutonomy(f({ verifiedSuccesses: 50, failedVerifications: 2 }), null, DEFAULT_TRACK_RECORD_WINDOW_MS)).toMatchObject({ to: 'approve', text: 'supports approve at most (people approve every write): 2 failed verifications in the last 30 days' });
  });
});
