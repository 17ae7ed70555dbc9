// Guards on the real engine (issue #3): the kill switch parks a running mission before its next write
// and lets it continue after release; the circuit breaker freezes an action two agents keep flipping;
// shadow mode and the autonomy level `suggest` execute nothing.
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSettingsTable, createSettingsTools } from '../fixtures/settings-tools.js';
import { startTestInterlock, type TestInterlock } from '../support/interlock.js';

let it_: TestInterlock;

beforeAll(async () => {
  const config = join(tmpdir(), `interlock-guards-${process.pid}.yaml`);
  await writeFile(config, [
    'autonomy:',
    '  rules:',
    '    - { tier: critical, level: approve }',
    '    - { tier: experimental, level: suggest }',
    '    - { tool: "ledger.*", tier: critical, level: auto }',
  ].join('\n'));
  it_ = await startTestInterlock('guards', { env: { INTERLOCK_CONFIG: config }, extraTools: (pool) => createSettingsTools(() => pool) });
  await createSettingsTable(it_.ledger);
});

afterAll(async () => {
  await it_?.close();
});

async function ledgerCount(missionId: string): Promise<number> {
  const { rows } = await it_.ledger.query<{ n: number }>('select count(*)::int as n from ledger where mission_id = $1', [missionId]);
  return rows[0]!.n;
}

describe('kill switch', () => {
  it('[GOV-KILL] engaged mid-mission: no further write runs; released: the mission is re-reviewed and continues', async () => {
    const engine = it_.running.engine;
    const { mission } = await engine.create({
      title: 'three slow writes', project: 'shop', labels: { service: 'kill-switch' },
      steps: [1, 2, 3].map((n) => ({ tool: 'ledger.append', args: { amount: n, delayMs: 800 } })),
    });
    await it_.waitFor(mission.id, (m) => m.steps.some((s) => s.stepId === 's1' && s.status === 'running'));
    await engine.engageKillSwitch('project:shop', 'oncall-lead', 'bad deploy in progress');
    const parked = await it_.waitFor(mission.id, (m) => m.waitingFor === 'kill_switch', 10_000);
    expect(parked.outcome).toBeNull();
    const writesWhenParked = await ledgerCount(mission.id);
    expect(writesWhenParked).toBe(1); // s1 was already running; s2 never started
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await ledgerCount(mission.id)).toBe(1);
    expect((await engine.get(mission.id)).steps.find((s) => s.stepId === 's2')?.status).toBe('pending');

    const released = await engine.releaseKillSwitch('project:shop', 'oncall-lead');
    expect(released?.engaged).toBe(false);
    const done = await it_.waitFor(mission.id, undefined, 30_000);
    expect(done.outcome).toBe('resolved');
    expect(await ledgerCount(mission.id)).toBe(3);
    expect(await engine.listKillSwitches()).toEqual([expect.objectContaining({ scope: 'project:shop', engaged: false, engagedBy: 'oncall-lead', releasedBy: 'oncall-lead' })]);
  });

  it('refuses a malformed scope', async () => {
    await expect(it_.running.engine.engageKillSwitch('everything', 'x', 'y')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });
});

describe('circuit breaker', () => {
  it('[GOV-BREAKER] two agents oscillating one setting: frozen after 3 flips, escalated, and stays frozen', async () => {
    const engine = it_.running.engine;
    const flip = async (agent: string, memoryMb: number) => {
      const { mission } = await engine.create({
        title: `${agent} sets memory to ${memoryMb}`, agent, project: 'shop',
        steps: [{ tool: 'settings.set-memory', args: { service: 'checkout', environment: 'production', memoryMb } }],
      });
      return it_.waitFor(mission.id);
    };
    const first = await flip('scaler-a', 1024);
    const second = await flip('scaler-b', 512);
    const third = await flip('scaler-a', 1024);
    const fourth = await flip('scaler-b', 512);
    expect([first.outcome, second.outcome, third.outcome, fourth.outcome]).toEqual(['resolved', 'resolved', 'escalated', 'escalated']);
    expect(third.escalation?.reason).toMatch(/circuit breaker: settings\.set-memory on checkout@production would run 3 times .* without the observed state changing \(by scaler-a, scaler-b\)/);
    expect(fourth.escalation?.reason).toMatch(/is frozen: circuit breaker/);
    const { rows } = await it_.ledger.query("select memory_mb, writes from service_settings where service = 'checkout'");
    expect(rows).toEqual([{ memory_mb: 512, writes: 2 }]);
  });
});

describe('shadow mode and autonomy', () => {
  it('[GOV-SHADOW] shadow mode records what would run and executes nothing', async () => {
    const { mission } = await it_.running.engine.create({ title: 'shadow', shadow: true, labels: { service: 'shadow' }, steps: [{ tool: 'ledger.append', args: { amount: 1 } }] });
    const done = await it_.waitFor(mission.id);
    expect(done.outcome).toBe('shadowed');
    expect(done.steps[0]).toMatchObject({ status: 'skipped', attempts: 0, result: { shadow: true, wouldRun: true, decision: 'allow' } });
    expect(done.history.map((t) => t.to)).not.toContain('execute');
    expect(await ledgerCount(mission.id)).toBe(0);
  });
});

describe('autonomy levels', () => {
  it('[GOV-SUGGEST] suggest hands the plan to people and executes nothing; approve asks a person even where policy allows', async () => {
    const engine = it_.running.engine;
    const suggested = await engine.create({ title: 'experimental tier', labels: { service: 'lab', tier: 'experimental' }, steps: [{ tool: 'ledger.append', args: { amount: 1 } }] });
    const done = await it_.waitFor(suggested.mission.id);
    expect(done.outcome).toBe('suggested');
    expect(done.history.at(-1)?.reason).toMatch(/suggested to people, not executed .*ledger\.append/);
    expect(await ledgerCount(done.id)).toBe(0);

    // The lowest matching level wins: the ledger.* rule says auto, the critical tier says approve.
    const approve = await engine.create({ title: 'critical tier', labels: { service: 'payments', tier: 'critical' }, steps: [{ tool: 'ledger.append', args: { amount: 1 } }] });
    const waiting = await it_.waitFor(approve.mission.id, (m) => m.waitingFor === 'approval');
    expect(waiting.decision?.effect).toBe('require_approval');
    expect(waiting.decision?.reasons.map((r) => r.rule)).toContain('autonomy/1');
    expect(await ledgerCount(waiting.id)).toBe(0);
    await engine.cancel(waiting.id);
    expect((await it_.waitFor(waiting.id)).outcome).toBe('cancelled');
  });
});
