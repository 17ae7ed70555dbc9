// The closed loop on the real reference estate (issue #6): Prometheus, Alertmanager, nginx,
// supervisord, PostgreSQL and three Node services, with Interlock as a separate process. Each fault
// goes from injection to verified recovery through alert, diagnosis, runbook, review, execution and
// verification; a fix that does not work is compensated and escalated; the approval path is taken by
// a second identity; a change freeze intercepts the write; and Interlock killed with SIGKILL in the
// middle of a remediation finishes it after a restart without repeating its write.
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createApiClient } from '../../src/cli/api-client.js';
import type { InterlockApi } from '../../src/cli/deps.js';
import { FAULT_EXPECTATIONS, followFault, type FaultTimeline } from '../../src/estate/closed-loop.js';
import { down, estateInterlockEnv, heal, inject, status, up } from '../../src/estate/estate.js';
import type { EstateFault } from '../../src/estate/estate-layout.js';
import type { EstateState } from '../../src/estate/estate-state.js';
import { ESTATE_AGENTS_DIR, ESTATE_POLICIES_DIR, ESTATE_WARM_UP_MS, managedEstateConfig } from '../../src/estate/managed-config.js';
import { readAgentDefinitions } from '../../src/agents/agent-loader.js';
import { ensureAgentPrincipals } from '../../src/agents/runtime.js';
import { createDatabase, PgIdentityStore } from '../../src/store/index.js';
import { estateSkipReason } from '../support/estate.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { http, spawnWorker, type WorkerProcess } from '../support/workers.js';

const skip = estateSkipReason();
const REVIEWER = 'e2e-reviewer';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let database: TestDatabase;
let dataDir: string;
let estateDir: string;
let policyDir: string;
let state: EstateState;
let port: number;
let worker: WorkerProcess | undefined;
let api: InterlockApi;
let reviewerToken: string;

/** Writes Interlock's configuration for the estate (pool runbook raising to `poolSizeRaised`) and starts it. */
async function startInterlock(poolSizeRaised = 12): Promise<WorkerProcess> {
  const file = join(dataDir, `interlock-${poolSizeRaised}.yaml`);
  await writeFile(file, stringify(managedEstateConfig(state, { url: `http://127.0.0.1:${port}`, dataDir, poolSizeRaised, policyDir })));
  worker = await spawnWorker({
    DATABASE_URL: database.url, INTERLOCK_CONFIG: file, INTERLOCK_DATA_DIR: dataDir, INTERLOCK_PORT: String(port), INTERLOCK_WORKER_ID: `e2e-${Date.now()}`,
    ...(await estateInterlockEnv(state)),
  });
  return worker;
}

/** Waits until Prometheus has no alert pending or firing. */
async function quiet(timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await status(estateDir)).alerts.length > 0) {
    if (Date.now() > deadline) throw new Error(`alerts still pending or firing after ${timeoutMs} ms: ${JSON.stringify((await status(estateDir)).alerts)}`);
    await sleep(1000);
  }
}

/** Injects `fault`, follows it to its outcome (approving as the reviewer when asked), then heals the estate. */
async function run(fault: EstateFault, options: { approve?: boolean; during?: (timeline: () => void) => void } = {}): Promise<FaultTimeline> {
  const expected = FAULT_EXPECTATIONS[fault];
  const injected = await inject(estateDir, fault);
  const lines: string[] = [];
  try {
    return await followFault({
      api, fault, service: expected.service, alert: expected.alert, injectedAt: injected.at, timeoutMs: 240_000, progress: (line) => lines.push(line),
      ...(options.approve === undefined ? {} : {
        decide: async (approval) => {
          await api.vote(approval.id, options.approve === true ? 'approve' : 'deny', { actionHash: approval.actionHash, comment: 'end-to-end test' });
          return { approved: options.approve === true, by: REVIEWER };
        },
      }),
    });
  } finally {
    // The follower's progress, for a failing test's report.
    console.log(`${fault}:\n${lines.join('\n')}`);
    await heal(estateDir);
    await quiet();
  }
}

async function ticketOf(incidentId: string): Promise<{ status: string; reason: string; outcome: string }> {
  const response = await fetch(`${worker!.url}/v1/incidents/${incidentId}/ticket`, { headers: { authorization: `Bearer ${reviewerToken}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { ticket: { status: string; reason: string; outcome: string } }).ticket;
}

describe.skipIf(skip !== undefined)(`the closed loop on the reference estate${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    database = await createTestDatabase('closed_loop');
    dataDir = await mkdtemp(join(tmpdir(), 'interlock-loop-'));
    // The estate's PostgreSQL runs as user postgres when the tests run as root: it must reach the directory.
    await chmod(dataDir, 0o755);
    estateDir = join(dataDir, 'estate');
    policyDir = join(dataDir, 'policies');
    await cp(ESTATE_POLICIES_DIR, policyDir, { recursive: true });
    port = await getPort({ host: '127.0.0.1' });
    const tokenFile = join(dataDir, 'alertmanager.token');
    await writeFile(tokenFile, 'not-yet\n', { mode: 0o600 });
    ({ state } = await up({ dir: estateDir, watchPid: process.pid, interlockUrl: `http://127.0.0.1:${port}`, tokenFile }));
    await startInterlock();
    // Identities: Alertmanager sends with its own token; the estate's agents act as themselves; the
    // reviewer is another identity than the requester of every remediation (estate-resolver).
    const handle = createDatabase({ url: database.url, poolSize: 2 });
    try {
      const identity = new PgIdentityStore(handle.db);
      await identity.createPrincipal({ name: 'alertmanager', kind: 'service', groups: [], roles: { '*': ['sender'] } }, Date.now());
      await writeFile(tokenFile, `${(await identity.createToken({ principal: 'alertmanager', expiresAt: null }, Date.now())).secret}\n`);
      await identity.createPrincipal({ name: REVIEWER, kind: 'human', groups: [], roles: { '*': ['approver'] } }, Date.now());
      await ensureAgentPrincipals(await readAgentDefinitions(ESTATE_AGENTS_DIR), identity, Date.now());
      reviewerToken = (await identity.createToken({ principal: REVIEWER, expiresAt: null }, Date.now())).secret;
    } finally {
      await handle.close();
    }
    api = createApiClient({ baseUrl: worker!.url, token: reviewerToken, timeoutMs: 30_000 });
    await sleep(Math.max(0, (state.startedAt ?? Date.now()) + ESTATE_WARM_UP_MS - Date.now()));
    await quiet();
  }, 300_000);

  afterAll(async () => {
    await worker?.kill();
    if (estateDir !== undefined) await down(estateDir).catch(() => undefined);
    await database?.drop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('memory leak: detected, diagnosed, catalog restarted without approval (non-critical tier), verified, ticket resolved', async () => {
    const timeline = await run('memory-leak');
    expect(timeline).toMatchObject({ hypothesis: { kind: 'memory_leak', service: 'catalog' }, approval: 'not required', outcome: 'resolved' });
    expect(timeline.runbook).toMatch(/^restart-on-memory-leak@/);
    expect(timeline.mttrMs).toBeGreaterThan(0);
    expect(await ticketOf(timeline.incidentId!)).toMatchObject({ status: 'resolved' });
  }, 300_000);

  it('bad release of the critical checkout: the rollback waits for approval, a second identity approves, the error rate is verified back down', async () => {
    const timeline = await run('bad-release', { approve: true });
    expect(timeline).toMatchObject({ hypothesis: { kind: 'bad_deploy', service: 'checkout' }, approval: `approved by ${REVIEWER}`, outcome: 'resolved' });
    expect(timeline.decision).toContain('rollbacks/critical-rollback');
    const remediation = await api.get(timeline.remediationMissionId!);
    // The resolution agent's own mission, after the hand-offs triage → resolution → governance → utility.
    expect(remediation.requester).toBe('estate-resolver');
    expect(remediation.labels.agentChain).toBe('estate-triage>estate-resolver>estate-governor');
    const deploys = (await readFile(state.paths.deployLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { service: string; kind: string; version: string; by: string });
    expect(deploys.filter((d) => d.service === 'checkout').slice(-1)[0]).toMatchObject({ kind: 'rollback', version: '1.4.0' });
  }, 300_000);

  it('connection-pool exhaustion: the payments pool is raised within the cap and nothing waits any more', async () => {
    const timeline = await run('pool-exhaustion');
    expect(timeline).toMatchObject({ hypothesis: { kind: 'pool_exhaustion', service: 'payments' }, approval: 'not required', outcome: 'resolved' });
    const remediation = await api.get(timeline.remediationMissionId!);
    expect(remediation.steps.filter((s) => s.phase === 'plan').map((s) => [s.tool, s.args])).toEqual([['postgres.set_pool_size', { service: 'payments', size: 12 }]]);
    // The revert after a quiet period is a follow-up mission, waiting durably until it is due.
    const diagnosis = await api.get(timeline.diagnosisMissionId!);
    // It was started with the remediation, by the resolution agent's hand-off.
    const followUpId = (diagnosis.steps.find((s) => s.tool === 'agents.handoff')?.result as { followUpMissionId?: string }).followUpMissionId;
    const followUp = await api.get(followUpId!);
    expect(followUp).toMatchObject({ waitingFor: 'schedule', outcome: null, labels: { followUp: 'true', followUpOf: timeline.remediationMissionId } });
    expect(followUp.request.notBefore).toBeGreaterThan(Date.now() + 400_000);
    expect(followUp.steps.map((s) => s.tool)).toEqual(['postgres.revert_pool_size', 'prometheus.check']);
  }, 300_000);

  it('load surge, with Interlock killed (SIGKILL) mid-remediation: after a restart the mission finishes and catalog-2 was started once', async () => {
    const expected = FAULT_EXPECTATIONS['load-surge'];
    const injected = await inject(estateDir, 'load-surge');
    // Kill Interlock as soon as the remediation's scale.out is running (or, if it was too quick, done).
    let killedIn: string | undefined;
    const killer = (async () => {
      for (let i = 0; i < 2400 && killedIn === undefined; i++) {
        const { json } = await http('GET', `${worker!.url}/v1/missions?limit=20`).catch(() => ({ json: { missions: [] } }));
        const mission = (json.missions as Array<{ id: string; title: string }> | undefined)?.find((m) => m.title.startsWith('Scale catalog out'));
        if (mission !== undefined) {
          const { json: detail } = await http('GET', `${worker!.url}/v1/missions/${mission.id}`);
          const step = (detail.mission.steps as Array<{ tool: string; status: string }>).find((s) => s.tool === 'scale.out');
          if (step !== undefined && step.status !== 'pending') {
            await worker!.kill();
            killedIn = `scale.out ${step.status}, stage ${String(detail.mission.stage)}`;
            break;
          }
        }
        await sleep(50);
      }
    })();
    await killer;
    expect(killedIn).toBeDefined();
    await startInterlock();
    api = createApiClient({ baseUrl: worker!.url, token: reviewerToken, timeoutMs: 30_000 });
    let timeline: FaultTimeline;
    try {
      timeline = await followFault({ api, fault: 'load-surge', service: expected.service, alert: expected.alert, injectedAt: injected.at, timeoutMs: 240_000 });
    } finally {
      await heal(estateDir);
      await quiet();
    }
    expect(timeline, `killed while ${killedIn}`).toMatchObject({ hypothesis: { kind: 'load_surge', service: 'catalog' }, outcome: 'resolved' });
    const remediation = await api.get(timeline.remediationMissionId!);
    expect(remediation.steps.find((s) => s.tool === 'scale.out')).toMatchObject({ status: 'succeeded' });
    // supervisord started catalog-2 once: the write was not repeated after the restart.
    const log = await readFile(join(estateDir, 'logs', 'supervisord.log'), 'utf8');
    const spawns = log.split('\n').filter((line) => line.includes("spawned: 'catalog-2'") && Date.parse(line.slice(0, 19).replace(' ', 'T')) >= injected.at - 2000);
    expect(spawns).toHaveLength(1);
  }, 400_000);

  // After the load surge: checkout's own process was restarted by the rollback minutes before, and a
  // young process's heap still grows as it warms up.
  it('canary latency regression: checkout traffic goes back to the stable server and p99 is verified', async () => {
    const timeline = await run('canary-regression');
    expect(timeline).toMatchObject({ hypothesis: { kind: 'canary_regression', service: 'checkout' }, approval: 'not required', outcome: 'resolved' });
    expect(timeline.runbook).toMatch(/^shift-canary-traffic-back@/);
  }, 300_000);

  it('a change freeze intercepts the write: the remediation escalates before executing, the ticket says why', async () => {
    const now = new Date();
    const start = new Date(now.getTime() - 60_000).toISOString().slice(0, 16);
    await writeFile(join(policyDir, 'freeze-now.yaml'), [
      'apiVersion: interlock.dev/v1', 'kind: Policy', 'metadata:', '  name: freeze-now', 'spec:', '  calendars:', '    now:', '      timezone: UTC', '      windows:',
      `        - { rrule: "FREQ=DAILY;COUNT=1", start: "${start}", duration: PT1H }`,
      '  rules:', '    - name: emergency-freeze', '      match: calendar.now && risk in ["write-low", "write-prod"]', '      effect: escalate', '      message: emergency change freeze; people decide', '',
    ].join('\n'));
    const reloaded = await http('POST', `${worker!.url}/v1/policy/reload`, {});
    expect(reloaded.status, JSON.stringify(reloaded.json)).toBe(200);
    try {
      const timeline = await run('memory-leak');
      expect(timeline).toMatchObject({ outcome: 'escalated', actedAt: null });
      expect(timeline.reason).toContain('emergency change freeze');
      const remediation = await api.get(timeline.remediationMissionId!);
      expect(remediation.steps.filter((s) => s.phase === 'plan').map((s) => s.status)).toEqual(['pending']);
      const ticket = await ticketOf(timeline.incidentId!);
      expect(ticket).toMatchObject({ status: 'escalated' });
      expect(ticket.reason).toContain('emergency change freeze');
    } finally {
      await rm(join(policyDir, 'freeze-now.yaml'));
      await http('POST', `${worker!.url}/v1/policy/reload`, {});
    }
  }, 300_000);

  it('a fix that does not work (a pool raised too little): verification fails, the pool is put back, the mission escalates and the ticket says why', async () => {
    await worker!.stop();
    await startInterlock(5);
    api = createApiClient({ baseUrl: worker!.url, token: reviewerToken, timeoutMs: 30_000 });
    const timeline = await run('pool-exhaustion');
    expect(timeline).toMatchObject({ hypothesis: { kind: 'pool_exhaustion', service: 'payments' }, outcome: 'escalated', verifiedAt: null });
    expect(timeline.reason).toMatch(/verification nothing-waits \(prometheus\.check\) failed/);
    const remediation = await api.get(timeline.remediationMissionId!);
    expect(remediation.escalation?.evidence).toMatchObject({ compensations: [{ tool: 'postgres.set_pool_size', status: 'compensated' }] });
    const ticket = await ticketOf(timeline.incidentId!);
    expect(ticket).toMatchObject({ status: 'escalated' });
    expect(ticket.reason).toContain('verification nothing-waits');
  }, 400_000);
});

// The examples directory the estate's policies come from must exist in a plain clone.
expect(fileURLToPath(new URL('../../examples/estate/policies', import.meta.url))).toBe(ESTATE_POLICIES_DIR);
