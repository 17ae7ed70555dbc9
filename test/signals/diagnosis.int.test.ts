// An incident starts its diagnosis mission (issue #5): the mission's context steps query the evidence
// (here the change feed: a real deploy log), the diagnosis step runs the built-in engine over them and
// the incident's signals, and the API and `interlock diagnose` show the ranked hypotheses with their
// evidence. Each evidence query is on the audit record.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { runCliInProcess } from '../support/cli.js';

let it_: TestInterlock;
let dir: string;
let token: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-diagnosis-'));
  const deployed = new Date(Date.now() - 10 * 60_000).toISOString();
  await writeFile(join(dir, 'deploys.jsonl'), `${JSON.stringify({ at: deployed, service: 'checkout', version: 'v2.4.1', kind: 'deploy', by: 'ci' })}\n`);
  await writeFile(join(dir, 'interlock.yaml'), `
connectors:
  changes:
    enabled: true
    deployLog: deploys.jsonl
intake:
  sources:
    - { name: alertmanager, type: alertmanager, project: shop }
`);
  it_ = await startTestInterlock('diagnosis', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
  token = (await createPrincipalWithToken(it_.running, { name: 'shop-operator', kind: 'human', roles: { shop: ['operator'] } })).token;
});

afterAll(async () => {
  await it_?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the diagnosis mission of an incident', () => {
  it('queries the evidence, diagnoses, and shows hypotheses that cite it', async () => {
    const startsAt = new Date(Date.now() - 5 * 60_000).toISOString();
    const response = await fetch(`${it_.running.url}/v1/signals/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ version: '4', status: 'firing', receiver: 'interlock', alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate', service: 'checkout', severity: 'critical' }, annotations: { summary: '5xx ratio 0.23 on checkout' }, startsAt, endsAt: '0001-01-01T00:00:00Z' }] }),
    });
    const intake = await response.json() as { incidents: Array<{ id: string; missionId: string | null }> };
    expect(response.status).toBe(202);
    const [incident] = intake.incidents;
    expect(incident!.missionId).toMatch(/^[0-9a-f-]{36}$/);

    const mission = await it_.waitFor(incident!.missionId!);
    expect(mission.outcome).toBe('resolved');
    expect(mission.steps.map((s) => [s.phase, s.stepId, s.tool, s.status])).toEqual([['context', 'changes', 'changes.list', 'succeeded'], ['plan', 'diagnose', 'diagnosis.run', 'succeeded']]);

    const { status, json } = await it_.get(`/v1/incidents/${incident!.id}/diagnosis`, token);
    expect(status).toBe(200);
    expect(json).toMatchObject({ incidentId: incident!.id, missionId: incident!.missionId, status: 'done' });
    const hypotheses = json.diagnosis.hypotheses as Array<{ kind: string; confidence: number; facts: Array<{ evidence: string[] }>; missingEvidence: string[] }>;
    expect(hypotheses.length).toBeGreaterThan(0);
    for (let i = 1; i < hypotheses.length; i++) expect(hypotheses[i - 1]!.confidence).toBeGreaterThanOrEqual(hypotheses[i]!.confidence);
    const evidenceIds = new Set((json.diagnosis.evidence as Array<{ id: string }>).map((e) => e.id));
    expect([...evidenceIds].some((id) => id.startsWith('changes'))).toBe(true);
    for (const hypothesis of hypotheses) for (const fact of hypothesis.facts) for (const id of fact.evidence) expect(evidenceIds.has(id)).toBe(true);
    // Without metrics, the engine says what it is missing rather than guessing.
    expect(hypotheses.flatMap((h) => h.missingEvidence).length).toBeGreaterThan(0);

    const { rows } = await it_.ledger.query("select count(*)::int as n from interlock.audit_entries where mission_id = $1 and kind = 'evidence.queried'", [incident!.missionId]);
    expect(rows[0].n).toBe(1);

    const diagnosed = await runCliInProcess(['diagnose', incident!.id, '--url', it_.running.url], { cwd: dir, token });
    expect(diagnosed.code).toBe(0);
    expect(diagnosed.stdout).toMatch(/^incident [0-9a-f-]{36}, mission [0-9a-f-]{36}: \d+ hypothesis\(es\) by interlock-builtin/);
    expect(diagnosed.stdout).toContain('1. [');
  });
});
