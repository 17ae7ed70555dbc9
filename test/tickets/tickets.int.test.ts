// Built-in tickets and webhook notifications (issue #6) on a real test database with real node:http
// receivers: finished missions (recorded through the real mission store, as the engine records them)
// are folded into their incident's ticket, audited with the ticket ID, and notified with an HMAC
// signature; failed deliveries are retried (honouring Retry-After) or given up.
import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type InterlockConfig } from '../../src/config/index.js';
import type { IncidentSettings } from '../../src/core/incidents/incident.js';
import { MissionRequestSchema, stepIdempotencyKey, type Escalation, type MissionDetail, type StepError, type StepPhase, type StepStatus } from '../../src/core/missions/mission.js';
import type { Outcome } from '../../src/core/missions/stages.js';
import type { RiskClass } from '../../src/core/tools/tool.js';
import { createNotificationDispatcher, type NotificationDispatcher } from '../../src/server/notifications.js';
import { PgAuditLog, PgMissionStore, PgSignalStore, PgTicketStore } from '../../src/store/index.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-3f9a1c0e-never-logged';
const settings: IncidentSettings = { groupBy: ['service'], reopenWindowMs: 60_000, flapping: { maxTransitions: 4, windowMs: 600_000 }, maxAlerts: 100 };

interface StepSpec {
  readonly stepId: string;
  readonly phase?: StepPhase;
  readonly tool: string;
  readonly risk?: RiskClass;
  readonly args?: Record<string, unknown>;
  readonly status: StepStatus;
  readonly result?: unknown;
  readonly error?: StepError;
  readonly finishedAt?: number;
}

let db: MigratedTestDatabase;
let missions: PgMissionStore;
let audit: PgAuditLog;
let ops: WebhookReceiver;
let pager: WebhookReceiver;
let dir: string;
let logs: Array<{ level: 'warn' | 'error'; obj: object; msg: string | undefined }>;
const running: NotificationDispatcher[] = [];

beforeEach(async () => {
  db = await createMigratedTestDatabase('tickets');
  missions = new PgMissionStore(db.handle.db);
  audit = new PgAuditLog(db.handle.db);
  ops = await startWebhookReceiver();
  pager = await startWebhookReceiver();
  dir = mkdtempSync(join(tmpdir(), 'interlock-tickets-'));
  logs = [];
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((dispatcher) => dispatcher.stop()));
  await ops.close();
  await pager.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The configuration as `interlock serve` loads it: webhook `ops` signed (all events), `pager` for escalations only. */
function config(retry = '{ initialMs: 50, maxMs: 200 }'): InterlockConfig {
  const file = join(dir, 'interlock.yaml');
  writeFileSync(file, [
    'notifications:',
    '  webhooks:',
    `    - { name: ops, url: "${ops.url}", secretEnv: OPS_WEBHOOK_KEY }`,
    `    - { name: pager, url: "${pager.url}", events: [ticket.escalated], timeoutMs: 2000 }`,
    '  pollIntervalMs: 50',
    `  retry: ${retry}`,
    '',
  ].join('\n'));
  return loadConfig({ env: { OPS_WEBHOOK_KEY: SECRET }, files: [file], cwd: dir });
}

function logger() {
  return {
    warn: (obj: object, msg?: string) => logs.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg?: string) => logs.push({ level: 'error', obj, msg }),
  };
}

/** The ticket store and a started dispatcher, wired as `startInterlock` wires them. */
function ticketsFor(cfg: InterlockConfig): { tickets: PgTicketStore; dispatcher: NotificationDispatcher } {
  const dispatcher = createNotificationDispatcher({ db: db.handle.db, notifications: cfg.notifications, logger: logger() });
  const tickets = new PgTicketStore({ db: db.handle.db, audit, targets: cfg.notifications.webhooks, onQueued: () => dispatcher.wake() });
  dispatcher.start();
  running.push(dispatcher);
  return { tickets, dispatcher };
}

/** Opens an incident through the real intake: one firing HighErrorRate alert of `service`. */
async function openIncident(service = 'checkout'): Promise<string> {
  const signals = new PgSignalStore(db.handle.db);
  const body = new TextEncoder().encode('{}');
  const result = await signals.intake({
    source: 'alertmanager', project: 'shop', kind: 'alertmanager', contentType: 'application/json', body, principal: 'am', receivedAt: Date.now(),
    signals: [{ source: 'alertmanager', kind: 'alertmanager', fingerprint: `f-${service}`, status: 'firing', name: 'HighErrorRate', labels: { alertname: 'HighErrorRate', service }, annotations: {}, startsAt: Date.now(), endsAt: null, generatorURL: null }],
  }, settings);
  return result.incidents[0]!.id;
}

/** A mission recorded through the mission store as the engine records one, ended with `outcome`. */
async function finishedMission(spec: { title: string; labels: Record<string, string>; steps: StepSpec[]; outcome: Outcome; reason: string; escalation?: Escalation; project?: string }): Promise<MissionDetail> {
  const id = randomUUID();
  const at = Date.now();
  const request = MissionRequestSchema.parse({ title: spec.title, project: spec.project ?? 'shop', labels: spec.labels, steps: spec.steps.filter((s) => (s.phase ?? 'plan') === 'plan').map((s) => ({ id: s.stepId, tool: s.tool, args: s.args ?? {} })) });
  await missions.createMission({
    id, request, reason: 'created', risk: spec.steps.some((s) => s.risk === 'write-prod') ? 'write-prod' : 'read', workflowVersion: 'mission-v1', at,
    steps: spec.steps.map((s, index) => ({ stepId: s.stepId, phase: s.phase ?? 'plan', index, tool: s.tool, args: s.args ?? {}, risk: s.risk ?? 'read', idempotencyKey: stepIdempotencyKey(id, s.stepId, s.phase === 'compensation' ? 'compensate' : 'do') })),
  });
  for (const s of spec.steps) {
    await missions.updateStep(id, s.stepId, { status: s.status, attempts: 1, startedAt: at, finishedAt: s.finishedAt ?? at + 10, ...(s.result === undefined ? {} : { result: s.result }), ...(s.error === undefined ? {} : { error: s.error }) });
  }
  await missions.recordTransition(id, 2, spec.outcome === 'escalated' ? 'escalate' : 'close', spec.reason, at + 100, { outcome: spec.outcome, ...(spec.escalation === undefined ? {} : { escalation: spec.escalation }) });
  return (await missions.getMissionDetail(id))!;
}

const diagnosis = (incidentId: string) => ({
  incidentId, engine: 'builtin-v1', onset: { ms: null, source: 'signals', evidence: [] }, ranking: [], evidence: [], unavailable: [],
  hypotheses: [
    { id: 'deploy_regression:checkout', kind: 'deploy_regression', service: 'checkout', summary: 'error ratio rose 40 s after deploy v2.3.1 of checkout', confidence: 0.83 },
    { id: 'connection_pool_exhaustion:db', kind: 'connection_pool_exhaustion', service: 'db', summary: 'pool near its maximum', confidence: 0.12 },
  ],
});

async function diagnosisMission(incidentId: string): Promise<MissionDetail> {
  return finishedMission({
    title: 'Diagnose HighErrorRate (service=checkout)', labels: { incident: incidentId, service: 'checkout' }, outcome: 'resolved', reason: 'every step succeeded and verification passed',
    steps: [{ stepId: 'diagnose', tool: 'diagnosis.run', args: { incidentId }, status: 'succeeded', result: diagnosis(incidentId) }],
  });
}

async function ticketEntries(): Promise<Array<{ kind: string; missionId: string | null; actor: string; data: any }>> {
  const page = await audit.query({ kinds: ['ticket.opened', 'ticket.updated'] });
  return page.entries.map(({ entry }) => ({ kind: entry.kind, missionId: entry.missionId, actor: entry.actor, data: entry.data }));
}

async function outbox() {
  return db.handle.db.selectFrom('interlock.notification_outbox').selectAll().orderBy('created_at').orderBy('target').execute();
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a mission end on its incident ticket', () => {
  it('opens the ticket with the diagnosis, resolves it with the remediation, audits each change with the ticket ID and delivers signed webhooks', async () => {
    const { tickets } = ticketsFor(config());
    const incidentId = await openIncident();
    const diagnosed = await diagnosisMission(incidentId);
    expect(await tickets.missionEnded(diagnosed)).toEqual({ ticketId: 'INC-1' });

    const remediated = await finishedMission({
      title: 'Roll back checkout to v2.3.0', labels: { incident: incidentId, service: 'checkout' }, outcome: 'resolved', reason: 'every step succeeded and verification passed',
      steps: [
        { stepId: 's1', tool: 'releases.rollback', risk: 'write-prod', args: { service: 'checkout', to: 'v2.3.0' }, status: 'succeeded', result: { release: 'v2.3.0' } },
        { stepId: 'v1', phase: 'verification', tool: 'prometheus.check', status: 'succeeded', result: { ok: true, observed: 'error ratio 0.01 <= 0.05 for 60 s' } },
      ],
    });
    const change = await tickets.recordMissionEnd(remediated, incidentId);
    expect(change).toMatchObject({ change: 'updated', previousStatus: 'open', events: ['ticket.resolved'] });

    const ticket = (await tickets.ticketOfIncident(incidentId))!;
    expect(ticket).toMatchObject({ id: 'INC-1', incidentId, project: 'shop', title: 'HighErrorRate (service=checkout)', service: 'checkout', status: 'resolved', outcome: 'resolved', reason: 'every step succeeded and verification passed' });
    expect(ticket.diagnosis?.hypotheses.map((h) => [h.kind, h.service, h.confidence])).toEqual([['deploy_regression', 'checkout', 0.83], ['connection_pool_exhaustion', 'db', 0.12]]);
    expect(ticket.actions.map((a) => [a.missionId, a.stepId, a.tool, a.status])).toEqual([[diagnosed.id, 'diagnose', 'diagnosis.run', 'succeeded'], [remediated.id, 's1', 'releases.rollback', 'succeeded']]);
    expect(ticket.missions.map((m) => [m.id, m.outcome])).toEqual([[diagnosed.id, 'resolved'], [remediated.id, 'resolved']]);
    expect(ticket.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['diagnosis', 'opened', 'action', 'verification', 'status']));
    expect(await tickets.getTicket('INC-1')).toEqual(ticket);

    expect(await ticketEntries()).toEqual([
      { kind: 'ticket.opened', missionId: diagnosed.id, actor: 'interlock-tickets', data: { ticketId: 'INC-1', incidentId, status: 'open', previousStatus: null, outcome: 'resolved', reason: 'every step succeeded and verification passed', events: ['ticket.opened'], notifications: ['ops'] } },
      { kind: 'ticket.updated', missionId: remediated.id, actor: 'interlock-tickets', data: { ticketId: 'INC-1', incidentId, status: 'resolved', previousStatus: 'open', outcome: 'resolved', reason: 'every step succeeded and verification passed', events: ['ticket.resolved'], notifications: ['ops'] } },
    ]);

    const received = await ops.waitFor(2);
    expect(received.map((r) => r.headers['x-interlock-event']).sort()).toEqual(['ticket.opened', 'ticket.resolved']);
    for (const request of received) {
      expect(verifySignature(SECRET, request.body, request.headers['x-interlock-signature'])).toBe(true);
      expect(verifySignature('another-key', request.body, request.headers['x-interlock-signature'])).toBe(false);
      expect(request.headers['content-type']).toMatch(/^application\/json/);
      expect(request.headers['x-interlock-delivery']).toBe(request.json.id);
      expect(request.json).toMatchObject({ event: request.headers['x-interlock-event'], project: 'shop', ticket: { id: 'INC-1', incidentId } });
    }
    const resolved = received.find((r) => r.headers['x-interlock-event'] === 'ticket.resolved')!;
    expect(resolved.json).toMatchObject({ message: expect.stringMatching(/^INC-1 resolved: HighErrorRate/), mission: { id: remediated.id, outcome: 'resolved' }, ticket: { status: 'resolved' } });
    // pager takes escalations only: nothing was queued for it.
    expect(pager.requests).toEqual([]);
    const rows = await until(async () => { const all = await outbox(); return all.every((row) => row.status === 'delivered') ? all : undefined; }, 'both deliveries to be marked delivered');
    expect(rows.map((row) => [row.target, row.event, row.status, row.attempts])).toEqual([['ops', 'ticket.opened', 'delivered', 1], ['ops', 'ticket.resolved', 'delivered', 1]]);
    expect((await tickets.notificationsOf('INC-1')).map((n) => [n.target, n.event, n.status])).toEqual([['ops', 'ticket.opened', 'delivered'], ['ops', 'ticket.resolved', 'delivered']]);
  });

  it("records an escalated mission's reason, what it compensated, and tells the pager too", async () => {
    const { tickets } = ticketsFor(config());
    const incidentId = await openIncident('payments');
    const escalated = await finishedMission({
      title: 'Restart payments', labels: { incident: incidentId }, outcome: 'escalated',
      reason: 'verification v1 (prometheus.check) did not pass within 60000 ms: error ratio 0.31 > 0.05',
      escalation: { reason: 'verification v1 (prometheus.check) did not pass within 60000 ms: error ratio 0.31 > 0.05', stepId: 'v1', evidence: {} },
      steps: [
        { stepId: 's1', tool: 'supervisor.restart', risk: 'write-low', args: { process: 'payments' }, status: 'compensated', result: { state: 'RUNNING' } },
        { stepId: 'v1', phase: 'verification', tool: 'prometheus.check', status: 'succeeded', result: { ok: false, observed: 'error ratio 0.31 > 0.05' } },
        { stepId: 's1.undo', phase: 'compensation', tool: 'supervisor.start', risk: 'write-low', args: { process: 'payments' }, status: 'succeeded', result: { state: 'RUNNING' } },
      ],
    });
    const change = await tickets.recordMissionEnd(escalated, incidentId);
    expect(change).toMatchObject({ change: 'opened', events: ['ticket.escalated', 'ticket.opened'] });
    expect(change.ticket).toMatchObject({
      status: 'escalated', outcome: 'escalated',
      reason: 'verification v1 (prometheus.check) did not pass within 60000 ms: error ratio 0.31 > 0.05; compensated s1 with supervisor.start: succeeded',
    });
    expect(change.ticket.actions).toEqual([expect.objectContaining({ stepId: 's1', status: 'compensated', compensation: expect.objectContaining({ stepId: 's1.undo', tool: 'supervisor.start', status: 'succeeded' }) })]);

    // One delivery per webhook, each naming the most important event it takes.
    const [toOps] = await ops.waitFor(1);
    const [toPager] = await pager.waitFor(1);
    expect(toOps?.headers['x-interlock-event']).toBe('ticket.escalated');
    expect(toPager?.headers['x-interlock-event']).toBe('ticket.escalated');
    expect(toPager?.headers).not.toHaveProperty('x-interlock-signature');
    expect(toPager?.json.ticket.reason).toContain('compensated s1 with supervisor.start: succeeded');
    expect(toOps?.json.message).toMatch(/^INC-1 escalated: HighErrorRate \(service=payments\) — verification v1/);
  });

  it('changes nothing when the same mission is reported again, even by two workers at once', async () => {
    const { tickets } = ticketsFor(config());
    const other = new PgTicketStore({ db: db.handle.db, audit, targets: config().notifications.webhooks });
    const incidentId = await openIncident();
    const diagnosed = await diagnosisMission(incidentId);
    const [first, second] = await Promise.all([tickets.recordMissionEnd(diagnosed, incidentId), other.recordMissionEnd(diagnosed, incidentId)]);
    expect([first.change, second.change].sort()).toEqual(['opened', 'unchanged']);
    expect(first.ticket).toEqual(second.ticket);
    await ops.waitFor(1);

    const before = { ticket: await tickets.getTicket('INC-1'), entries: await ticketEntries(), rows: await outbox() };
    const again = await tickets.recordMissionEnd(diagnosed, incidentId);
    expect(again).toEqual({ ticket: before.ticket, change: 'unchanged', previousStatus: 'open', events: [] });
    expect(await tickets.missionEnded(diagnosed)).toEqual({ ticketId: 'INC-1' });
    expect(await tickets.getTicket('INC-1')).toEqual(before.ticket);
    expect(await ticketEntries()).toEqual(before.entries);
    expect(before.entries).toHaveLength(1);
    expect((await outbox()).map((row) => row.id)).toEqual(before.rows.map((row) => row.id));
    expect(await tickets.listTickets({ limit: 10 })).toHaveLength(1);
    expect(ops.requests).toHaveLength(1);
  });

  it('gives a mission tied to no incident (or to an incident of another project) a ticket of its own', async () => {
    const { tickets } = ticketsFor(config());
    const incidentId = await openIncident();
    const unlinked = await finishedMission({ title: 'Rotate logs', labels: {}, outcome: 'resolved', reason: 'done', steps: [{ stepId: 's1', tool: 'files.write', risk: 'write-low', status: 'succeeded', result: { bytes: 12 } }] });
    const elsewhere = await finishedMission({ title: 'Other project', project: 'billing', labels: { incident: incidentId }, outcome: 'resolved', reason: 'done', steps: [{ stepId: 's1', tool: 'builtin.noop', status: 'succeeded', result: {} }] });
    const a = await tickets.missionEnded(unlinked);
    const b = await tickets.missionEnded(elsewhere);
    expect(a.ticketId).not.toBe(b.ticketId);
    expect(await tickets.getTicket(a.ticketId)).toMatchObject({ incidentId: null, title: 'Rotate logs', status: 'resolved' });
    expect(await tickets.getTicket(b.ticketId)).toMatchObject({ incidentId: null, project: 'billing', status: 'open' });
    expect(await tickets.ticketOfIncident(incidentId)).toBeUndefined();
    expect((await tickets.listTickets({ limit: 10, project: 'billing' })).map((t) => t.id)).toEqual([b.ticketId]);
    expect((await tickets.listTickets({ limit: 10, status: 'resolved' })).map((t) => t.id)).toEqual([a.ticketId]);
    expect((await tickets.listTickets({ limit: 10, before: b.ticketId })).map((t) => t.id)).toEqual([a.ticketId]);
  });
});

describe('webhook delivery', () => {
  it('retries a delivery the receiver refused with 503 after its Retry-After, then marks it delivered once', async () => {
    ops.script({ status: 503, headers: { 'retry-after': '2' } });
    const { tickets } = ticketsFor(config());
    const incidentId = await openIncident();
    await tickets.missionEnded(await diagnosisMission(incidentId));

    const refused = await until(async () => (await outbox()).find((row) => row.last_status === 503), 'the 503 to be recorded');
    expect(refused).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 503 Service Unavailable: not now' });
    expect(refused.next_attempt_at - refused.created_at).toBeGreaterThanOrEqual(2000);

    const [first, second] = await ops.waitFor(2);
    expect([first?.status, second?.status]).toEqual([503, 200]);
    expect(second?.headers['x-interlock-delivery']).toBe(first?.headers['x-interlock-delivery']);
    expect(second?.body).toBe(first?.body);
    expect(verifySignature(SECRET, second!.body, second!.headers['x-interlock-signature'])).toBe(true);
    const delivered = await until(async () => (await outbox()).find((row) => row.status === 'delivered'), 'the delivery to be marked delivered');
    expect(delivered).toMatchObject({ attempts: 2, last_error: null });
    expect(logs.map((l) => [l.level, (l.obj as { status?: number }).status])).toEqual([['warn', 503]]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
    // Delivered once: nothing more arrives.
    expect(ops.requests).toHaveLength(2);
  });

  it('gives a delivery up once it is older than retry.maxAgeMs: failed, logged as an error, shown on the ticket', async () => {
    ops.script(...Array.from({ length: 100 }, () => ({ status: 400, body: 'unknown channel' })));
    const { tickets } = ticketsFor(config('{ initialMs: 100, maxMs: 200, maxAgeMs: 1000 }'));
    const incidentId = await openIncident();
    await tickets.missionEnded(await diagnosisMission(incidentId));

    const failed = await until(async () => (await outbox()).find((row) => row.status === 'failed'), 'the delivery to be given up');
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    expect(failed).toMatchObject({ last_status: 400, last_error: 'HTTP 400 Bad Request: unknown channel' });
    expect(logs.at(-1)).toMatchObject({ level: 'error', obj: { webhook: 'ops', event: 'ticket.opened', status: 400 } });
    expect(logs.at(-1)?.msg).toMatch(/given up after \d+ attempt\(s\)/);
    // A persistent failure (a 4xx) is an error on every attempt, not only when given up.
    expect(logs.every((l) => l.level === 'error')).toBe(true);
    expect((await tickets.notificationsOf('INC-1')).map((n) => [n.target, n.status, n.lastStatus])).toEqual([['ops', 'failed', 400]]);
    const attempts = ops.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ops.requests).toHaveLength(attempts);
  });

  it('queues an action.notify once per message of a mission, with its ticket, to the webhooks that take it', async () => {
    const { tickets } = ticketsFor(config());
    const incidentId = await openIncident();
    await tickets.missionEnded(await diagnosisMission(incidentId));
    const remediation = await finishedMission({ title: 'Roll back checkout', labels: { incident: incidentId }, outcome: 'resolved', reason: 'done', steps: [{ stepId: 's1', tool: 'releases.rollback', risk: 'write-prod', status: 'succeeded', result: {} }] });
    const message = 'executing under autonomy level auto-notify: releases.rollback';
    expect(await tickets.notifyAction(remediation.id, message)).toBe(1);
    expect(await tickets.notifyAction(remediation.id, message)).toBe(0);
    expect(await tickets.notifyAction(randomUUID(), message)).toBe(0);

    const received = await ops.waitFor(2);
    const notify = received.find((r) => r.headers['x-interlock-event'] === 'action.notify')!;
    expect(notify.json).toMatchObject({ event: 'action.notify', message, project: 'shop', mission: { id: remediation.id }, ticket: { id: 'INC-1' } });
    expect(verifySignature(SECRET, notify.body, notify.headers['x-interlock-signature'])).toBe(true);
    expect(pager.requests).toEqual([]);
    // Shown on the ticket once the mission is recorded on it.
    await tickets.missionEnded(remediation);
    expect((await tickets.notificationsOf('INC-1')).map((n) => n.event)).toEqual(['ticket.opened', 'action.notify', 'ticket.resolved']);
  });

  it('refuses to build a dispatcher whose signing key variable is unset', () => {
    config();
    const cfg = loadConfig({ env: {}, files: [join(dir, 'interlock.yaml')], cwd: dir });
    expect(() => createNotificationDispatcher({ db: db.handle.db, notifications: cfg.notifications, logger: logger() })).toThrow(/OPS_WEBHOOK_KEY|signing key/);
  });
});
