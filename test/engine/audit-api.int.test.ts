// The audit log through the HTTP API (issue #4): query a mission's entries, sign a checkpoint on
// demand, fetch inclusion and consistency proofs and check them as an outside auditor would, with
// nothing but the verifier key; permissions and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuditProof } from '../../src/cli/commands/audit.js';
import { decodeBase64 } from '../../src/core/audit/base64.js';
import { parseCheckpoint, parseVerifierKey, verifyConsistency, verifyNote } from '../../src/core/audit/index.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;
let auditorToken: string;
let viewerToken: string;
let missionId: string;

beforeAll(async () => {
  it_ = await startTestInterlock('audit_api');
  auditorToken = (await createPrincipalWithToken(it_.running, { name: 'carol-auditor', kind: 'human', roles: { '*': ['auditor'] } })).token;
  viewerToken = (await createPrincipalWithToken(it_.running, { name: 'vic-viewer', kind: 'human', roles: { '*': ['viewer'] } })).token;
  const { mission } = await it_.running.engine.create({ title: 'audited over the API', labels: { service: 'audit-api' }, steps: [{ tool: 'ledger.append', args: { amount: 7 } }] });
  missionId = mission.id;
  expect((await it_.waitFor(missionId)).outcome).toBe('resolved');
});

afterAll(async () => {
  await it_?.close();
});

describe('GET /v1/audit/entries', () => {
  it("lists a mission's entries in log order, filtered by tool and kind, a page at a time", async () => {
    const all = await it_.get(`/v1/audit/entries?mission=${missionId}`, auditorToken);
    expect(all.status).toBe(200);
    const kinds = all.json.entries.map((e: { entry: { kind: string } }) => e.entry.kind);
    expect(kinds[0]).toBe('plan.proposed');
    expect(kinds).toContain('tool.called');
    const indices = all.json.entries.map((e: { index: number }) => e.index);
    expect(indices).toEqual([...indices].sort((a: number, b: number) => a - b));

    const calls = await it_.get(`/v1/audit/entries?tool=ledger.append&kind=tool.called,tool.result&mission=${missionId}`, auditorToken);
    expect(calls.json.entries.map((e: { entry: { kind: string; data: { tool: string } } }) => [e.entry.kind, e.entry.data.tool])).toEqual([
      ['tool.called', 'ledger.append'],
      ['tool.result', 'ledger.append'],
    ]);

    const first = await it_.get(`/v1/audit/entries?mission=${missionId}&limit=2`, auditorToken);
    expect(first.json.entries).toHaveLength(2);
    expect(first.json.next).toBe(indices[1]);
    const second = await it_.get(`/v1/audit/entries?mission=${missionId}&limit=2&after=${first.json.next}`, auditorToken);
    expect(second.json.entries.map((e: { index: number }) => e.index)).toEqual(indices.slice(2, 4));

    const later = await it_.get(`/v1/audit/entries?mission=${missionId}&since=${new Date(Date.now() + 60_000).toISOString()}`, auditorToken);
    expect(later.json.entries).toEqual([]);
  });

  it('answers 400 naming each bad parameter, and 403 without audit:read for every project', async () => {
    const bad = await it_.get('/v1/audit/entries?mission=nope&kind=tool.called,tool.exploded&since=yesterday&limit=0', auditorToken);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INPUT_INVALID');
    expect(bad.json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['query.kind', 'query.limit', 'query.mission', 'query.since']);
    expect(bad.json.error.details.issues.find((i: { path: string }) => i.path === 'query.kind').message).toMatch(/tool.exploded is not an audit entry kind/);
    const forbidden = await it_.get('/v1/audit/entries', viewerToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error).toMatchObject({ code: 'FORBIDDEN', details: { permission: 'audit:read', project: '*' } });
  });
});

describe('checkpoints and proofs', () => {
  it('signs on demand (admin only); the proofs verify with the verifier key alone', async () => {
    expect((await it_.post('/v1/audit/checkpoints', undefined, auditorToken)).status).toBe(403);
    const first = await it_.post('/v1/audit/checkpoints');
    expect(first.status).toBe(200);
    expect(first.json.created).toBe(true);
    const again = await it_.post('/v1/audit/checkpoints');
    expect(again.json).toEqual({ ...first.json, created: false });

    const { json: key } = await it_.get('/v1/audit/key', auditorToken);
    expect(key.origin).toBe('interlock/audit');
    const verifier = parseVerifierKey(key.verifierKey);
    const signed = verifyNote(first.json.checkpoint.note, [verifier]);
    expect(signed.ok).toBe(true);

    const { json: entries } = await it_.get(`/v1/audit/entries?mission=${missionId}&kind=tool.called`, auditorToken);
    const index = entries.entries[0].index as number;
    const proof = await it_.get(`/v1/audit/proofs/inclusion?index=${index}`, auditorToken);
    expect(proof.status).toBe(200);
    expect(proof.json).toMatchObject({ index, size: first.json.checkpoint.size, leafHash: entries.entries[0].leafHash });
    expect(checkAuditProof(key.verifierKey, first.json.checkpoint.note, proof.json)).toEqual({ ok: true, origin: 'interlock/audit', index, size: first.json.checkpoint.size });

    // More entries, a second checkpoint, and a consistency proof between the two.
    const { mission } = await it_.running.engine.create({ title: 'more', labels: { service: 'audit-api-2' }, steps: [{ tool: 'ledger.append', args: { amount: 1 } }] });
    await it_.waitFor(mission.id);
    const second = await it_.post('/v1/audit/checkpoints');
    expect(second.json.checkpoint.size).toBeGreaterThan(first.json.checkpoint.size);
    const consistency = await it_.get(`/v1/audit/proofs/consistency?from=${first.json.checkpoint.size}`, auditorToken);
    expect(consistency.status).toBe(200);
    const older = parseCheckpoint(first.json.checkpoint.note.split('\n\n')[0] + '\n');
    const newer = parseCheckpoint(second.json.checkpoint.note.split('\n\n')[0] + '\n');
    expect(verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, consistency.json.proof.map((h: string) => decodeBase64(h)!))).toEqual({ ok: true });
    const latest = await it_.get('/v1/audit/checkpoints/latest', auditorToken);
    expect(latest.json.checkpoint).toEqual(second.json.checkpoint);

    // The old checkpoint still proves the old entry.
    const pinned = await it_.get(`/v1/audit/proofs/inclusion?index=${index}&size=${first.json.checkpoint.size}`, auditorToken);
    expect(checkAuditProof(key.verifierKey, first.json.checkpoint.note, pinned.json)).toMatchObject({ ok: true });
  });

  it('names what is wrong with a proof request', async () => {
    const size = (await it_.get('/v1/audit/checkpoints/latest', auditorToken)).json.checkpoint.size as number;
    expect((await it_.get(`/v1/audit/proofs/inclusion?index=${size + 1000}`, auditorToken)).json.error.code).toBe('AUDIT_PROOF_RANGE');
    const notStored = await it_.get(`/v1/audit/proofs/consistency?from=1`, auditorToken);
    expect(notStored.status).toBe(400);
    expect(notStored.json.error).toMatchObject({ code: 'AUDIT_PROOF_RANGE', details: { issues: [{ path: 'from' }] } });
    expect((await it_.get('/v1/audit/proofs/inclusion?index=-1', auditorToken)).json.error.details.issues[0].path).toBe('query.index');
  });
});
