import { describe, expect, it } from 'vitest';
import { MissionRequestSchema, type MissionDetail } from '../missions/mission.js';
import type { AuditEntry, AuditEntryKind } from './entry.js';
import { escapeMarkdown, missionReport, type MissionReportRecord } from './report.js';

const MISSION = '6f1c0e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';
const OTHER = '0a0b0c0d-1111-4222-8333-444455556666';
const T0 = Date.UTC(2026, 0, 2, 3, 0, 0);
const DIGEST = 'd'.repeat(64);
const DIGEST2 = 'e'.repeat(64);
const APPROVAL1 = '11111111-1111-4111-8111-111111111111';
const APPROVAL2 = '22222222-2222-4222-8222-222222222222';

type Spec = readonly [kind: AuditEntryKind, actor: string, data: Record<string, unknown>, missionId?: string | null];

/** Records at indices `from`, `from + 1`, ..., one second apart; entries belong to MISSION unless said. */
function records(from: number, specs: readonly Spec[]): MissionReportRecord[] {
  return specs.map(([kind, actor, data, missionId], i) => ({
    index: from + i,
    entry: { schemaVersion: 1, kind, actor, missionId: missionId === undefined ? MISSION : missionId, at: T0 + (from + i) * 1000, data } satisfies AuditEntry,
  }));
}

function mission(overrides: Partial<MissionDetail> = {}, request: Record<string, unknown> = {}): MissionDetail {
  return {
    id: MISSION,
    title: 'Append to the *production* ledger',
    project: 'shop',
    requester: 'alice',
    idempotencyKey: null,
    labels: {},
    request: MissionRequestSchema.parse({ title: 'Append to the *production* ledger', project: 'shop', steps: [{ tool: 'ledger.append-prod', args: { amount: 7 } }], ...request }),
    stage: 'escalate',
    outcome: 'escalated',
    waitingFor: null,
    risk: 'write-prod',
    decision: null,
    escalation: null,
    workflowVersion: 'mission-v1',
    cancelRequested: false,
    createdAt: T0,
    updatedAt: T0 + 40_000,
    finishedAt: T0 + 40_000,
    steps: [],
    history: [],
    ...overrides,
  };
}

const requireApproval = (round: number, trigger: string, digest = DIGEST) => ({
  round, trigger, suggest: false, notify: false, actions: [],
  decision: { effect: 'require_approval', policyDigest: digest, approval: { quorum: 1, groups: ['change-board'], expiresInMs: 3_600_000 }, reasons: [{ rule: 'prod/ledger', effect: 'require_approval', message: 'production ledger writes need the change board' }] },
});
const voter = (name: string, kind = 'human') => ({ id: `00000000-0000-4000-8000-00000000000${name.length}`, name, kind });

/**
 * A mission that needed approval: a refused self-approval, a refused agent vote, a policy change
 * under review (so the first grant no longer applied and the plan was approved again), a failing
 * second step, the compensation of the first, and the escalation.
 */
const FULL: readonly MissionReportRecord[] = records(0, [
  ['plan.proposed', 'alice', { risk: 'write-prod', request: { title: 'Append', hypothesis: 'the ledger is behind', confidence: 0.8, steps: [{ tool: 'ledger.append-prod', args: { amount: 7 } }, { tool: 'ledger.append-prod', args: { amount: 8, fail: true } }] } }], // 0
  ['stage.transition', 'interlock-engine', { seq: 2, to: 'context', reason: 'gathering evidence' }], // 1
  ['tool.called', 'interlock-engine', { stepId: 'c1', phase: 'context', tool: 'ledger.balance', risk: 'read', args: { account: 'main' }, idempotencyKey: `${MISSION}:c1`, attempt: 1 }], // 2
  ['tool.result', 'interlock-engine', { stepId: 'c1', tool: 'ledger.balance', status: 'succeeded', seconds: 0.004, result: { balance: 42 }, recovered: false }], // 3
  ['stage.transition', 'interlock-engine', { seq: 3, to: 'plan', reason: 'plan of 2 step(s)' }], // 4
  ['policy.decided', 'interlock-engine', requireApproval(1, 'plan')], // 5
  ['stage.transition', 'interlock-engine', { seq: 4, to: 'review', reason: 'approval required' }], // 6
  ['approval.requested', 'interlock-engine', { approvalId: APPROVAL1, requester: 'alice', requirement: { quorum: 1, groups: ['change-board'], expiresInMs: 3_600_000 } }], // 7
  ['approval.voted', 'alice', { approvalId: APPROVAL1, actionHash: 'a'.repeat(64), voter: voter('alice'), decision: 'approve', comment: null, counted: false, code: 'APPROVAL_SELF_APPROVAL', reason: 'alice requested mission and cannot vote on its own approval request; another approver must.' }], // 8
  ['approval.voted', 'triage-agent', { approvalId: APPROVAL1, actionHash: 'a'.repeat(64), voter: voter('triage-agent', 'agent'), decision: 'approve', comment: null, counted: false, code: 'APPROVAL_AGENT_VOTE', reason: 'triage-agent is an agent; agents never vote on approvals, whatever their roles.' }], // 9
  ['policy.changed', 'admin', { previousDigest: DIGEST, digest: DIGEST2, dir: '/etc/interlock/policies', files: ['a.yaml'], rules: 3 }, null], // 10
  ['approval.voted', 'bob', { approvalId: APPROVAL1, actionHash: 'a'.repeat(64), voter: voter('bob'), decision: 'approve', comment: 'ok | go *now*', counted: true, status: 'granted', approvals: 1, quorum: 1 }], // 11
  ['approval.decided', 'bob', { approvalId: APPROVAL1, actionHash: 'a'.repeat(64), status: 'granted', by: 'bob', comment: 'bob: ok | go *now*', approvals: 1, quorum: 1 }], // 12
  ['policy.decided', 'interlock-engine', requireApproval(2, 'recheck', DIGEST2)], // 13
  ['approval.consumed', 'interlock-engine', { approvalId: APPROVAL1, ok: false, code: 'APPROVAL_HASH_MISMATCH', reason: 'the actions or the policy changed after approval' }], // 14
  ['approval.requested', 'interlock-engine', { approvalId: APPROVAL2, requester: 'alice', requirement: { quorum: 1, groups: ['change-board'], expiresInMs: 3_600_000 } }], // 15
  ['approval.voted', 'carol', { approvalId: APPROVAL2, actionHash: 'b'.repeat(64), voter: voter('carol'), decision: 'approve', comment: null, counted: true, status: 'granted', approvals: 1, quorum: 1 }], // 16
  ['approval.decided', 'carol', { approvalId: APPROVAL2, actionHash: 'b'.repeat(64), status: 'granted', by: 'carol', comment: null, approvals: 1, quorum: 1 }], // 17
  ['policy.decided', 'interlock-engine', requireApproval(3, 'recheck', DIGEST2)], // 18
  ['approval.consumed', 'interlock-engine', { approvalId: APPROVAL2, ok: true }], // 19
  ['stage.transition', 'interlock-engine', { seq: 5, to: 'execute', reason: 'executing under decision require_approval' }], // 20
  ['tool.called', 'interlock-engine', { stepId: 's1', phase: 'plan', tool: 'ledger.append-prod', risk: 'write-prod', args: { amount: 7 }, idempotencyKey: `${MISSION}:s1`, attempt: 1 }], // 21
  ['tool.result', 'interlock-engine', { stepId: 's1', tool: 'ledger.append-prod', status: 'succeeded', seconds: 0.012, result: { ledgerId: '17' }, recovered: false }], // 22
  ['tool.called', 'interlock-engine', { stepId: 's2', phase: 'plan', tool: 'ledger.append-prod', risk: 'write-prod', args: { amount: 8, fail: true }, idempotencyKey: `${MISSION}:s2`, attempt: 1 }], // 23
  ['tool.result', 'interlock-engine', { stepId: 's2', tool: 'ledger.append-prod', status: 'failed', seconds: 0.003, error: { code: 'TOOL_FAILED', message: 'the ledger refused the entry (injected failure)', retryable: false, outcomeUnknown: false } }], // 24
  ['tool.called', 'interlock-engine', { stepId: 's1.undo', phase: 'compensation', tool: 'ledger.remove', risk: 'write-prod', args: { ledgerId: '17', amount: 7 }, idempotencyKey: `${MISSION}:s1:compensate`, attempt: 1 }], // 25
  ['compensation.ran', 'interlock-engine', { stepId: 's1.undo', tool: 'ledger.remove', status: 'succeeded', seconds: 0.002, result: { removed: true }, recovered: false }], // 26
  ['stage.transition', 'interlock-engine', { seq: 6, to: 'escalate', reason: 'step s2 (ledger.append-prod) failed: the ledger refused the entry (injected failure)', outcome: 'escalated' }], // 27
  ['mission.escalated', 'interlock-engine', { outcome: 'escalated', reason: 'step s2 (ledger.append-prod) failed: the ledger refused the entry (injected failure)', stepId: 's2', evidence: { compensations: [{ stepId: 's1', tool: 'ledger.remove', status: 'compensated' }] } }], // 28
]);

describe('missionReport', () => {
  const report = missionReport({ mission: mission(), records: FULL, checkpoint: { size: 40, rootHash: new Uint8Array(32).fill(7) } });

  it('summarises the mission, citing where it started and ended and the checkpoint that covers it', () => {
    expect(report.startsWith('# Mission report: Append to the \\*production\\* ledger\n')).toBe(true);
    expect(report).toContain(`| Mission | \`${MISSION}\` |`);
    expect(report).toContain('| Requester | alice [#0] |');
    expect(report).toContain('| Outcome | escalated [#28] |');
    expect(report).toContain(`| Started | ${new Date(T0).toISOString()} [#0] |`);
    expect(report).toContain(`| Ended | ${new Date(T0 + 28_000).toISOString()} [#28] |`);
    expect(report).toContain('| Audit entries | 28, from [#0] to [#28] |');
    expect(report).toContain(`| Checkpoint | size 40, root \`${Buffer.alloc(32, 7).toString('base64')}\`: covers every entry of this mission |`);
  });

  it('lists the evidence with its source, query and result digest, and the plan with its arguments', () => {
    expect(report).toMatch(/\| `c1` \| `ledger.balance` \| \{"account":"main"\} \| SHA-256 `[0-9a-f]{64}` \| \[#2\] \[#3\] \|/);
    expect(report).toContain('Hypothesis: the ledger is behind (confidence 0.8) [#0].');
    expect(report).toContain('Step 2 (`s2`): `ledger.append-prod`\n\n```json\n{\n  "amount": 8,\n  "fail": true\n}\n```');
  });

  it('gives each policy decision its rule, effect, reason and policy digest', () => {
    expect(report).toContain('### Round 1: require\\_approval [#5]');
    expect(report).toContain(`policy digest \`${DIGEST}\`; approval required: 1 from change-board, expiring after 1 h.`);
    expect(report).toContain('| `prod/ledger` | require\\_approval | production ledger writes need the change board |');
    expect(report).toContain('### Round 2, re-check before execution: require\\_approval [#13]');
  });

  it('shows requests, counted votes with identity and time, refused votes with their refusal, decisions and grants used', () => {
    expect(report).toContain(`| ${new Date(T0 + 7000).toISOString()} | \`${APPROVAL1}\` | 1 from change-board | 1 h | alice | [#7] |`);
    expect(report).toContain(`| ${new Date(T0 + 11_000).toISOString()} | \`${APPROVAL1}\` | bob (\`${voter('bob').id}\`) | human | granted | ok \\| go \\*now\\* | [#11] |`);
    expect(report).toMatch(/\| alice \(`[^`]+`\) \| human \| approve \| `APPROVAL_SELF_APPROVAL` \| alice requested mission .* \| \[#8\] \|/);
    expect(report).toMatch(/\| triage-agent \(`[^`]+`\) \| agent \| approve \| `APPROVAL_AGENT_VOTE` \| .* \| \[#9\] \|/);
    expect(report).toContain(`| \`${APPROVAL2}\` | granted | carol | 1 of 1 |   | [#17] |`);
    expect(report).toContain(`| \`${APPROVAL1}\` | refused: \`APPROVAL_HASH_MISMATCH\` the actions or the policy changed after approval | [#14] |`);
    expect(report).toContain(`| \`${APPROVAL2}\` | used once | [#19] |`);
    expect(report).toContain('Every write ran under an approval that was granted and used once.');
  });

  it('shows every tool call with its arguments and result or error, its attempt and duration', () => {
    expect(report).toContain('### `s1` `ledger.append-prod` (write-prod), attempt 1: succeeded in 0.012 s [#21] [#22]');
    expect(report).toContain('### `s2` `ledger.append-prod` (write-prod), attempt 1: failed in 0.003 s [#23] [#24]');
    expect(report).toContain('Error:\n\n```json\n{\n  "code": "TOOL_FAILED",\n  "message": "the ledger refused the entry (injected failure)",');
    expect(report).toContain(`with idempotency key \`${MISSION}:s2\`. Arguments:`);
  });

  it('shows compensations, and who corrected what: the policy change, the grant that no longer applied, the new request, the escalation', () => {
    const compensations = report.slice(report.indexOf('## Compensations'), report.indexOf('## Verification'));
    expect(compensations).toContain('### `s1.undo` `ledger.remove` (write-prod), attempt 1: succeeded in 0.002 s [#25] [#26]');
    const corrections = report.slice(report.indexOf('## Who corrected what'), report.indexOf('## Stage history'));
    expect(corrections.split('\n').filter((line) => line.startsWith('- ')).map((line) => line.match(/\[#\d+\]\.$/)?.[0])).toEqual(['[#10].', '[#14].', '[#15].', '[#28].']);
    expect(corrections).toContain(`- The policy set changed from \`${DIGEST}\` to \`${DIGEST2}\`, reloaded by admin at`);
    expect(corrections).toContain('- Escalated to people at');
    expect(corrections).toContain(' (step `s2`): step s2 (ledger.append-prod) failed: the ledger refused the entry (injected failure) [#28].');
  });

  it('lists the stage history and every entry it read, and says when nothing failed closed', () => {
    expect(report).toContain('| 6 | escalate | step s2 (ledger.append-prod) failed: the ledger refused the entry (injected failure) |');
    expect(report).toContain('The mission never failed closed, was never parked by a kill switch and was never stopped by a guard.');
    const entries = report.slice(report.indexOf('## Audit entries'));
    expect(entries.match(/^\| \[#\d+\] \|/gm)).toHaveLength(29);
    expect(entries).toContain('| [#10] | ');
  });

  it('is deterministic: the same records in any order, repeated or with keys reordered, give the same bytes', () => {
    const reorder = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reorder);
      if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorder(v)]));
      return value;
    };
    const shuffled = [...FULL].reverse().map((r) => ({ index: r.index, entry: reorder(r.entry) as AuditEntry }));
    expect(missionReport({ mission: mission(), records: [...shuffled, ...FULL.slice(0, 5)], checkpoint: { size: 40, rootHash: new Uint8Array(32).fill(7) } })).toBe(report);
  });

  it('says which entries no checkpoint covers yet, and when there is none', () => {
    expect(missionReport({ mission: mission(), records: FULL, checkpoint: { size: 20, rootHash: new Uint8Array(32) } })).toContain('entries from [#20] on are not covered yet');
    expect(missionReport({ mission: mission(), records: FULL })).toContain('| Checkpoint | none yet: make one with `interlock audit checkpoint` |');
  });
});

describe('writes without an approval, kill switches and failing closed', () => {
  const allowed = (round: number, trigger: string, notify = false) => ({
    round, trigger, suggest: false, notify, actions: [],
    decision: { effect: 'allow', policyDigest: DIGEST, approval: null, reasons: [{ rule: 'default/write-low', effect: 'allow', message: 'no policy rule matched; the default for write-low tools is allow' }] },
  });
  const records2 = [
    ...records(0, [
      ['kill_switch.changed', 'root', { scope: 'project:shop', engaged: true, reason: 'before this mission' }, null], // 0, before the mission: engaged while it ran
      ['kill_switch.changed', 'root', { scope: 'project:other', engaged: true, reason: 'another project' }, null], // 1, not covering it
      ['policy.changed', 'admin', { previousDigest: DIGEST2, digest: DIGEST, files: [] }, null], // 2, before the mission
    ]),
    ...records(10, [
      ['plan.proposed', 'alice', { risk: 'write-low', request: { steps: [{ tool: 'ledger.append', args: { amount: 1 } }] } }], // 10
      ['policy.decided', 'interlock-engine', allowed(1, 'plan')], // 11
      ['kill_switch.changed', 'root', { scope: 'project:shop', engaged: false }, null], // 12
      ['policy.decided', 'interlock-engine', allowed(101, 'kill_switch_released', true)], // 13
      ['tool.called', 'interlock-engine', { stepId: 's1', phase: 'plan', tool: 'ledger.append', risk: 'write-low', args: { amount: 1 }, idempotencyKey: `${MISSION}:s1`, attempt: 1, auditOutage: { since: T0 + 13_500, error: 'audit storage unavailable (test)' } }], // 14
      ['tool.result', 'interlock-engine', { stepId: 's1', tool: 'ledger.append', status: 'succeeded', seconds: 0.01, result: { ledgerId: '1' }, recovered: false }], // 15
      ['mission.closed', 'interlock-engine', { outcome: 'cancelled', reason: 'cancelled by dave', by: 'dave' }], // 16
      ['approval.voted', 'bob', { approvalId: APPROVAL1, voter: voter('bob'), decision: 'approve', counted: true }, OTHER], // 17, another mission's
    ]),
  ];
  const report = missionReport({ mission: mission({ createdAt: T0 + 10_000, outcome: 'cancelled', stage: 'close', risk: 'write-low' }), records: records2 });

  it('says why a write ran without an approval ("bypassed"): policy allowed it under autonomy auto-notify', () => {
    expect(report).toContain('- Step `s1` `ledger.append` (write-low) ran without an approval ("bypassed") [#14]: policy allowed it (`default/write-low`) and the autonomy level auto-notify (people were told) asked for no approval [#13].');
  });

  it('shows where it failed closed and the kill switch that parked it, ignoring other projects\' switches and earlier policy changes', () => {
    const notes = report.slice(report.indexOf('## Failed closed'), report.indexOf('## Who corrected what'));
    expect(notes).toContain(`- Failed closed: the audit log refused this mission's entries from ${new Date(T0 + 13_500).toISOString()} (audit storage unavailable (test)); the mission waited and went on only once [#14] (tool.called) was recorded`);
    expect(notes).toContain('- Kill switch `project:shop` engaged by root: before this mission at');
    expect(notes).toContain('- Kill switch `project:shop` released by root at');
    expect(notes).toContain('- Parked by a kill switch before a write; once it was released, the remaining steps were reviewed again: allow [#13].');
    expect(report).not.toContain('[#1]');
    expect(report).not.toContain('[#2]');
    expect(report).not.toContain('[#17]');
  });

  it('names who cancelled it', () => {
    expect(report).toContain('- Cancelled by dave at');
    expect(report).toContain('cancelled by dave [#16].');
  });

  it('states the state of a running mission that waits for the audit log or a kill switch', () => {
    const running = (waitingFor: MissionDetail['waitingFor']) => missionReport({ mission: mission({ outcome: null, stage: 'execute', finishedAt: null, waitingFor }), records: records(0, [['plan.proposed', 'alice', { request: { steps: [] } }]]) });
    expect(running('audit')).toContain('| Outcome | running: stage execute, waiting for audit |');
    expect(running('audit')).toContain('- Failed closed now: the mission waits for the audit log');
    expect(running('kill_switch')).toContain('- Parked now: the mission waits for a kill switch to be released');
  });
});

describe('escaping untrusted text', () => {
  const hostile = 'x | y *b* _i_ [l](http://e.example) <img src=x> `c` ~~s~~ &amp; # h\nnext line';
  const fence = '```';
  const report = missionReport({
    mission: mission({ title: hostile }),
    records: records(0, [
      ['plan.proposed', 'alice', { request: { steps: [{ tool: 'ledger.append', args: { note: `${fence}\n# injected heading\n${fence}` } }] } }],
      ['approval.voted', 'eve', { approvalId: APPROVAL1, voter: { id: 'x|y', name: 'eve | admin', kind: 'human' }, decision: 'deny', comment: hostile, counted: true }],
      ['tool.called', 'interlock-engine', { stepId: 's1', phase: 'plan', tool: 'ledger.append', risk: 'write-low', args: { note: `${fence}\n# injected heading\n${fence}` }, attempt: 1 }],
    ]),
  });

  it('escapes Markdown in inline text and table cells, keeping every table row to its columns', () => {
    expect(escapeMarkdown(hostile)).toBe('x \\| y \\*b\\* \\_i\\_ \\[l\\](http://e.example) \\<img src=x\\> \\`c\\` \\~\\~s\\~\\~ \\&amp; \\# h next line');
    expect(escapeMarkdown('- item')).toBe('\\- item');
    expect(escapeMarkdown('1. item')).toBe('1\\. item');
    expect(report).toContain(`# Mission report: ${escapeMarkdown(hostile)}\n`);
    const lines = report.split('\n');
    let columns = 0;
    for (const line of lines) {
      if (!line.startsWith('|')) {
        columns = 0;
        continue;
      }
      const cells = line.split(/(?<!\\)\|/).length - 2;
      if (columns === 0) columns = cells;
      expect(cells, line).toBe(columns);
    }
    expect(report).toContain('| eve \\| admin (`x\\|y`) | human | denied |');
  });

  it('puts JSON in fenced blocks longer than any backtick run inside, so nothing escapes them', () => {
    expect(report).toContain('````json\n{\n  "note": "```\\n# injected heading\\n```"\n}\n````');
    expect(report.split('\n').filter((line) => line.startsWith('# '))).toHaveLength(1);
  });

  it('cuts very large values and points at the entry holding them', () => {
    const big = missionReport({ mission: mission(), records: records(0, [['tool.called', 'interlock-engine', { stepId: 's1', phase: 'plan', tool: 't', risk: 'read', args: { blob: 'x'.repeat(30_000) }, attempt: 1 }]]) });
    expect(big).toContain('(cut at 20000 characters: the whole value is in entry [#0])');
    expect(big.length).toBeLessThan(25_000);
  });
});
