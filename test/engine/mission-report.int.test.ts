// The mission report and the audit entries it is built from, on a real Interlock (issue #4): a
// production write that needs approval, a refused self-approval, an agent's refused vote, a second
// identity approving, a failing second step and the compensation of the first; then
// `GET /v1/missions/:id/report` and `interlock missions report` tell it with each fact's entry index,
// and the cited entries have inclusion proofs. Also: the worker's configuration and each policy
// reload are on the record, and a reload the audit log cannot record is refused.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/approvals/binding-hash.js';
import type { AuditEntry } from '../../src/core/audit/entry.js';
import { verifyInclusion } from '../../src/core/audit/merkle.js';
import { openIdentity } from '../../src/server/main.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { allowAuditWrites, refuseAuditWrites } from '../support/audit.js';
import { runCliInProcess } from '../support/cli.js';

let it_: TestInterlock;
let dir: string;
let policies: string;
const tokens: Record<string, string> = {};
const token = (name: string): string => tokens[name]!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-report-'));
  policies = join(dir, 'policies');
  await mkdir(policies);
  // No periodic checkpoints: the test makes the one the report cites.
  await writeFile(join(dir, 'interlock.yaml'), `policy:\n  dir: ${policies}\naudit:\n  checkpointIntervalMs: null\n`);
  it_ = await startTestInterlock('mission_report', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
  const principals: Array<Parameters<typeof createPrincipalWithToken>[1]> = [
    { name: 'alice', kind: 'human', roles: { '*': ['operator', 'approver'] } },
    { name: 'bob', kind: 'human', roles: { '*': ['approver'] } },
    { name: 'triage-agent', kind: 'agent', roles: { '*': ['approver'] } },
    { name: 'paula', kind: 'human', roles: { payments: ['viewer'] } },
  ];
  for (const principal of principals) {
    tokens[principal.name] = (await createPrincipalWithToken(it_.running, principal)).token;
  }
});

afterAll(async () => {
  await it_?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Stored audit entries, by index: of the mission, or of kind `kind` when no mission is given. */
async function entries(where: { missionId?: string; kind?: string }): Promise<Array<{ index: number; entry: AuditEntry }>> {
  const { rows } = where.missionId !== undefined
    ? await it_.ledger.query<{ idx: string; entry: Buffer }>('select idx, entry from interlock.audit_entries where mission_id = $1 order by idx', [where.missionId])
    : await it_.ledger.query<{ idx: string; entry: Buffer }>('select idx, entry from interlock.audit_entries where kind = $1 order by idx', [where.kind]);
  return rows.map((row) => ({ index: Number(row.idx), entry: JSON.parse(row.entry.toString('utf8')) as AuditEntry }));
}

async function report(missionId: string, token = it_.adminToken): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${it_.running.url}/v1/missions/${missionId}/report`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function cli(args: string[], token: string) {
  return runCliInProcess([...args, '--url', it_.running.url], { cwd: dir, token, deps: { openIdentity } });
}

/** The mission's pending approval request, once it is open. */
async function pendingApproval(missionId: string): Promise<{ id: string; actionHash: string }> {
  return it_.pendingApproval(missionId);
}

describe('the mission report', () => {
  let missionId: string;
  let own: Array<{ index: number; entry: AuditEntry }>;
  let text: string;
  const find = (predicate: (entry: AuditEntry) => boolean): number => {
    const found = own.find((r) => predicate(r.entry));
    expect(found, 'an audit entry of the mission').toBeDefined();
    return found!.index;
  };

  beforeAll(async () => {
    const created = await it_.post('/v1/missions', {
      title: 'top up the production ledger',
      steps: [{ tool: 'ledger.append-prod', args: { amount: 5 } }, { tool: 'ledger.append-prod', args: { amount: 6, fail: true } }],
    }, token('alice'));
    expect(created.status).toBe(201);
    missionId = created.json.mission.id;
    const approval = await pendingApproval(missionId);
    const self = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash }, token('alice'));
    expect(self.json.error.code).toBe('APPROVAL_SELF_APPROVAL');
    const agent = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash }, token('triage-agent'));
    expect(agent.json.error.code).toBe('APPROVAL_AGENT_VOTE');
    const approved = await it_.post(`/v1/approvals/${approval.id}/approve`, { actionHash: approval.actionHash, comment: 'go | ahead *now*' }, token('bob'));
    expect(approved.status).toBe(200);
    expect((await it_.waitFor(missionId)).outcome).toBe('escalated');
    await it_.running.audit.checkpoint();
    own = await entries({ missionId });
    const got = await report(missionId);
    expect(got.status).toBe(200);
    expect(got.type).toBe('text/markdown; charset=utf-8');
    text = got.text;
  });

  it('records every vote, refused ones too, with the voter and the refusal, and each decision', () => {
    expect(own.filter((r) => r.entry.kind === 'approval.voted').map((r) => [r.entry.actor, r.entry.data.counted, r.entry.data.code ?? null])).toEqual([
      ['alice', false, 'APPROVAL_SELF_APPROVAL'],
      ['triage-agent', false, 'APPROVAL_AGENT_VOTE'],
      ['bob', true, null],
    ]);
    const bob = own.find((r) => r.entry.kind === 'approval.voted' && r.entry.actor === 'bob')!.entry.data;
    expect(bob).toMatchObject({ decision: 'approve', comment: 'go | ahead *now*', status: 'granted', voter: { name: 'bob', kind: 'human', id: expect.any(String) }, actionHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(own.filter((r) => r.entry.kind === 'approval.decided').map((r) => r.entry.data)).toEqual([expect.objectContaining({ status: 'granted', by: 'bob', comment: 'bob: go | ahead *now*' })]);
    expect(own.at(-1)?.entry).toMatchObject({ kind: 'mission.escalated', data: { outcome: 'escalated', stepId: 's2', reason: expect.stringContaining('step s2 (ledger.append-prod) failed') } });
  });

  it('tells the mission with each fact citing its entry index', () => {
    const voted = (code: string): number => find((e) => e.kind === 'approval.voted' && e.data.code === code);
    const bobVote = find((e) => e.kind === 'approval.voted' && e.actor === 'bob');
    const failedCall = find((e) => e.kind === 'tool.called' && e.data.stepId === 's2');
    const failedResult = find((e) => e.kind === 'tool.result' && e.data.stepId === 's2');
    const undo = find((e) => e.kind === 'compensation.ran');
    const escalated = find((e) => e.kind === 'mission.escalated');
    const consumed = find((e) => e.kind === 'approval.consumed');
    const proposed = find((e) => e.kind === 'plan.proposed');
    expect(text).toContain(`| Mission | \`${missionId}\` |`);
    expect(text).toContain(`| Requester | alice [#${proposed}] |`);
    expect(text).toContain(`| Outcome | escalated [#${escalated}] |`);
    expect(text).toContain('covers every entry of this mission');
    expect(text).toMatch(new RegExp(`\\| alice \\(\`[0-9a-f-]{36}\`\\) \\| human \\| approve \\| \`APPROVAL_SELF_APPROVAL\` \\| alice requested mission .* \\| \\[#${voted('APPROVAL_SELF_APPROVAL')}\\] \\|`));
    expect(text).toMatch(new RegExp(`\\| triage-agent \\(\`[0-9a-f-]{36}\`\\) \\| agent \\| approve \\| \`APPROVAL_AGENT_VOTE\` \\| .* \\| \\[#${voted('APPROVAL_AGENT_VOTE')}\\] \\|`));
    expect(text).toMatch(new RegExp(`\\| bob \\(\`[0-9a-f-]{36}\`\\) \\| human \\| granted \\| go \\\\\\| ahead \\\\\\*now\\\\\\* \\| \\[#${bobVote}\\] \\|`));
    expect(text).toMatch(new RegExp(`\\| used once \\| \\[#${consumed}\\] \\|`));
    expect(text).toContain('| `default/write-prod` | require\\_approval |');
    expect(text).toMatch(new RegExp(`### \`s2\` \`ledger.append-prod\` \\(write-prod\\), attempt 1: failed in [0-9.]+ s \\[#${failedCall}\\] \\[#${failedResult}\\]`));
    expect(text).toContain('"message": "the ledger refused the entry (injected failure)"');
    expect(text).toMatch(new RegExp(`### \`s1.undo\` \`ledger.remove\` \\(write-low\\), attempt 1: succeeded in [0-9.]+ s \\[#\\d+\\] \\[#${undo}\\]`));
    expect(text).toContain(`(step \`s2\`): step s2 (ledger.append-prod) failed: the ledger refused the entry (injected failure) [#${escalated}].`);
    expect(text).toContain('Every write ran under an approval that was granted and used once.');
  });

  it('cites entries an auditor can prove: the refused self-approval has an inclusion proof against the signed checkpoint', async () => {
    const index = find((e) => e.kind === 'approval.voted' && e.data.code === 'APPROVAL_SELF_APPROVAL');
    expect(text).toContain(`[#${index}]`);
    const proof = await it_.running.audit.proof(index);
    const checkpoint = (await it_.running.audit.latestCheckpoint())!;
    expect(verifyInclusion(index, proof.size, proof.leafHash, proof.proof, checkpoint.rootHash)).toEqual({ ok: true });
    expect(JSON.parse(new TextDecoder().decode(proof.entry))).toMatchObject({ kind: 'approval.voted', actor: 'alice', data: { code: 'APPROVAL_SELF_APPROVAL', counted: false } });
  });

  it('is the same bytes when asked again, and through `interlock missions report`, printed or written to a file', async () => {
    expect((await report(missionId)).text).toBe(text);
    const printed = await cli(['missions', 'report', missionId], token('alice'));
    expect(printed.code).toBe(0);
    expect(`${printed.stdout}\n`).toBe(text);
    const written = await cli(['missions', 'report', missionId, '--output', 'report.md'], token('alice'));
    expect(written).toMatchObject({ code: 0, stdout: `wrote the report of mission ${missionId} to ${join(dir, 'report.md')}` });
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toBe(text);
  });

  it('answers 404 MISSION_NOT_FOUND for an unknown mission and 403 without missions:read in its project', async () => {
    const unknown = await report('00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text).error.code).toBe('MISSION_NOT_FOUND');
    const forbidden = await report(missionId, token('paula'));
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.text).error.details).toMatchObject({ permission: 'missions:read', project: 'default' });
    const cliMissing = await cli(['missions', 'report', '00000000-0000-4000-8000-000000000000'], token('alice'));
    expect(cliMissing.code).toBe(1);
    expect(cliMissing.stderr.join('\n')).toContain('No mission 00000000-0000-4000-8000-000000000000');
  });

  it('names who cancelled a mission', async () => {
    const created = await it_.post('/v1/missions', { title: 'to cancel', steps: [{ tool: 'ledger.append-prod', args: { amount: 1 } }] }, token('alice'));
    await pendingApproval(created.json.mission.id);
    expect((await it_.post(`/v1/missions/${created.json.mission.id}/cancel`, undefined, token('alice'))).status).toBe(202);
    expect((await it_.waitFor(created.json.mission.id)).outcome).toBe('cancelled');
    const closed = (await entries({ missionId: created.json.mission.id })).at(-1)!;
    expect(closed.entry).toMatchObject({ kind: 'mission.closed', data: { outcome: 'cancelled', by: 'alice' } });
    expect((await report(created.json.mission.id)).text).toContain(`- Cancelled by alice at ${new Date(closed.entry.at).toISOString()}: cancelled by alice while waiting for approval [#${closed.index}].`);
  });
});

describe('configuration and policy changes on the record', () => {
  it('records the configuration a worker serves under when it starts: redacted, with its digest, worker ID and version', async () => {
    const [started] = await entries({ kind: 'config.changed' });
    expect(started?.entry).toMatchObject({ actor: it_.running.workerId, missionId: null, data: { workerId: it_.running.workerId, version: expect.any(String), policyDigest: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const data = started!.entry.data as { digest: string; config: Record<string, unknown> };
    expect(data.digest).toBe(createHash('sha256').update(canonicalJson(data.config)).digest('hex'));
    expect(data.config).toMatchObject({ policy: { dir: policies } });
  });

  it('[GOV-AUDIT-FAIL-CLOSED] records each policy reload that changes the set, and refuses one the audit log cannot record, keeping the set in force', async () => {
    const rule = (name: string) => ['apiVersion: interlock.dev/v1', 'kind: Policy', `metadata: { name: ${name} }`, 'spec:', '  rules:', '    - name: no-such-tool', '      match: tool.name == "no.such-tool"', '      effect: deny', '      message: never'].join('\n');
    const before = it_.running.policy.current().digest;
    await writeFile(join(policies, 'a.yaml'), rule('first'));
    const reloaded = await it_.post('/v1/policy/reload');
    expect(reloaded.json).toMatchObject({ ok: true, changed: true });
    expect((await it_.post('/v1/policy/reload')).json).toMatchObject({ ok: true, changed: false });
    const changes = await entries({ kind: 'policy.changed' });
    expect(changes.map((c) => c.entry)).toEqual([expect.objectContaining({ actor: 'test-admin', missionId: null, data: { previousDigest: before, digest: reloaded.json.digest, dir: policies, files: [join(policies, 'a.yaml')], rules: 1 } })]);

    await writeFile(join(policies, 'b.yaml'), rule('second'));
    await refuseAuditWrites(it_.ledger);
    try {
      const refused = await it_.post('/v1/policy/reload');
      expect(refused.status).toBe(503);
      expect(refused.json.error).toMatchObject({ code: 'AUDIT_UNAVAILABLE', details: { digest: reloaded.json.digest } });
      expect(it_.running.policy.current().digest).toBe(reloaded.json.digest);
    } finally {
      await allowAuditWrites(it_.ledger);
    }
    const again = await it_.post('/v1/policy/reload');
    expect(again.json).toMatchObject({ ok: true, changed: true });
    expect((await entries({ kind: 'policy.changed' })).map((c) => c.entry.data.digest)).toEqual([reloaded.json.digest, again.json.digest]);
  });
});
