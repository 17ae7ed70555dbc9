// Tickets through a running Interlock (issue #6): real missions run by the engine end on tickets
// (`RunningInterlock.tickets`, the engine's MissionEndSink), an auto-notify action and the ticket's
// changes reach a real webhook signed, and the API (`/v1/tickets`, `/v1/incidents/:id/ticket`) and the
// CLI (`interlock tickets list|show`) show them, with `tickets:read` checked per project.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../support/cli.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-api-test-6d1e';

let it_: TestInterlock;
let hook: WebhookReceiver;
let dir: string;
let viewer: string;
let outsider: string;
let sender: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-tickets-api-'));
  hook = await startWebhookReceiver();
  await writeFile(join(dir, 'interlock.yaml'), `
intake:
  sources:
    - { name: alertmanager, type: alertmanager, project: shop }
autonomy:
  rules:
    - { tool: ledger.append, level: auto-notify }
notifications:
  webhooks:
    - { name: ops, url: "${hook.url}", secretEnv: TICKETS_HOOK_KEY }
  pollIntervalMs: 50
  retry: { initialMs: 50, maxMs: 200 }
`);
  it_ = await startTestInterlock('tickets-api', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml'), TICKETS_HOOK_KEY: SECRET } });
  viewer = (await createPrincipalWithToken(it_.running, { name: 'shop-viewer', kind: 'human', roles: { shop: ['viewer'] } })).token;
  outsider = (await createPrincipalWithToken(it_.running, { name: 'billing-viewer', kind: 'human', roles: { billing: ['viewer'] } })).token;
  sender = (await createPrincipalWithToken(it_.running, { name: 'am-sender', kind: 'service', roles: { '*': ['sender'] } })).token;
});

afterAll(async () => {
  await it_?.close();
  await hook?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('tickets of missions run by the engine', () => {
  it("records an escalated mission on a ticket that says why, notifies (auto-notify too) and shows it in the API and the CLI", async () => {
    const created = await it_.post('/v1/missions', { title: 'Append to the ledger', project: 'shop', labels: { service: 'ledger' }, steps: [{ tool: 'ledger.append', args: { amount: 5, failVerification: true } }] });
    expect(created.status).toBe(201);
    const mission = await it_.waitFor(created.json.mission.id);
    expect(mission.outcome).toBe('escalated');

    const { ticketId } = await it_.running.tickets.missionEnded(mission);
    expect(ticketId).toMatch(/^INC-\d+$/);
    expect(await it_.running.tickets.missionEnded(mission)).toEqual({ ticketId });

    const received = await hook.waitFor(2);
    expect(received.map((r) => r.headers['x-interlock-event']).sort()).toEqual(['action.notify', 'ticket.escalated']);
    // The auto-notify action was told as it ran.
    const notified = received.find((r) => r.headers['x-interlock-event'] === 'action.notify')!;
    expect(notified.json).toMatchObject({ event: 'action.notify', project: 'shop', mission: { id: mission.id }, message: expect.stringContaining('auto-notify') });
    expect(verifySignature(SECRET, notified.body, notified.headers['x-interlock-signature'])).toBe(true);
    const escalation = received.find((r) => r.headers['x-interlock-event'] === 'ticket.escalated')!;
    expect(verifySignature(SECRET, escalation.body, escalation.headers['x-interlock-signature'])).toBe(true);
    expect(escalation.json.ticket).toMatchObject({ id: ticketId, status: 'escalated', service: 'ledger' });

    const shown = await until(async () => {
      const answer = await it_.get(`/v1/tickets/${ticketId}`, viewer);
      return answer.json.notifications?.webhooks?.[0]?.delivered === 2 ? answer : undefined;
    });
    expect(shown.status).toBe(200);
    const { ticket } = shown.json;
    expect(ticket).toMatchObject({ id: ticketId, incidentId: null, project: 'shop', title: 'Append to the ledger', status: 'escalated', outcome: 'escalated' });
    expect(ticket.reason).toMatch(/^verification of step s1 \(ledger\.append\) failed .*; compensated s1 with ledger\.remove: succeeded$/);
    expect(ticket.actions).toEqual([expect.objectContaining({ missionId: mission.id, stepId: 's1', tool: 'ledger.append', status: 'compensated', compensation: expect.objectContaining({ tool: 'ledger.remove', status: 'succeeded' }) })]);
    expect(shown.json.notifications).toMatchObject({ webhooks: [{ webhook: 'ops', delivered: 2, pending: 0, failed: 0 }] });
    expect(shown.json.notifications.deliveries.map((d: { event: string }) => d.event).sort()).toEqual(['action.notify', 'ticket.escalated']);

    const { rows } = await it_.ledger.query("select convert_from(entry, 'UTF8')::jsonb -> 'data' as data from interlock.audit_entries where mission_id = $1 and kind = 'ticket.opened'", [mission.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].data).toMatchObject({ ticketId, status: 'escalated', notifications: ['ops'] });
    // The signing key is in no audit entry (config.changed records the configuration, redacted).
    const leaked = await it_.ledger.query("select count(*)::int as n from interlock.audit_entries where position($1 in convert_from(entry, 'UTF8')) > 0", [SECRET]);
    expect(leaked.rows[0].n).toBe(0);

    const listed = await it_.get('/v1/tickets?status=escalated&project=shop', viewer);
    expect(listed.status).toBe(200);
    expect(listed.json.tickets.map((t: { id: string }) => t.id)).toContain(ticketId);

    const cliList = await runCliInProcess(['tickets', 'list', '--status', 'escalated', '--project', 'shop', '--url', it_.running.url], { cwd: dir, token: viewer });
    expect(cliList.code).toBe(0);
    expect(cliList.stdout).toContain(ticketId);
    const cliShow = await runCliInProcess(['tickets', 'show', ticketId, '--url', it_.running.url], { cwd: dir, token: viewer });
    expect(cliShow.code).toBe(0);
    expect(cliShow.stdout).toContain(`${ticketId}: Append to the ledger`);
    expect(cliShow.stdout).toContain('compensated s1 with ledger.remove: succeeded');
    expect(cliShow.stdout).toMatch(/ops\s*│?\s*2\s*│?\s*0\s*│?\s*0/);
    const cliJson = await runCliInProcess(['--json', 'tickets', 'show', ticketId, '--url', it_.running.url], { cwd: dir, token: viewer });
    expect(JSON.parse(cliJson.stdout)).toMatchObject({ ticket: { id: ticketId, status: 'escalated' } });
  });

  it("opens an incident's ticket from its diagnosis mission, served at /v1/incidents/:id/ticket", async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const response = await fetch(`${it_.running.url}/v1/signals/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sender}` },
      body: JSON.stringify({ version: '4', status: 'firing', receiver: 'interlock', alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate', service: 'checkout' }, annotations: {}, startsAt, endsAt: '0001-01-01T00:00:00Z' }] }),
    });
    expect(response.status).toBe(202);
    const [incident] = ((await response.json()) as { incidents: Array<{ id: string; missionId: string }> }).incidents;
    const diagnosis = await it_.waitFor(incident!.missionId);
    expect(diagnosis.outcome).toBe('resolved');
    const { ticketId } = await it_.running.tickets.missionEnded(diagnosis);

    const shown = await it_.get(`/v1/incidents/${incident!.id}/ticket`, viewer);
    expect(shown.status).toBe(200);
    expect(shown.json.ticket).toMatchObject({ id: ticketId, incidentId: incident!.id, title: 'HighErrorRate (service=checkout)', status: 'open', service: 'checkout' });
    expect(shown.json.ticket.diagnosis).toMatchObject({ missionId: diagnosis.id });
    expect(shown.json.ticket.diagnosis.hypotheses.length).toBeGreaterThan(0);
    const byId = await runCliInProcess(['tickets', 'show', incident!.id, '--url', it_.running.url], { cwd: dir, token: viewer });
    expect(byId.stdout).toContain(`${ticketId}: HighErrorRate (service=checkout)`);
  });

  it('answers unknown tickets 404, malformed IDs 400, and checks tickets:read in the ticket project', async () => {
    const [some] = (await it_.get('/v1/tickets?project=shop', viewer)).json.tickets as Array<{ id: string }>;
    expect(some).toBeDefined();
    expect(await it_.get('/v1/tickets/INC-999999', viewer)).toMatchObject({ status: 404, json: { error: { code: 'TICKET_NOT_FOUND' } } });
    expect(await it_.get('/v1/incidents/6f1c2a3b-0000-4000-8000-000000000000/ticket', viewer)).toMatchObject({ status: 404, json: { error: { code: 'TICKET_NOT_FOUND' } } });
    expect(await it_.get('/v1/tickets/42', viewer)).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID' } } });
    expect(await it_.get(`/v1/tickets/${some!.id}`, outsider)).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN', details: { permission: 'tickets:read', project: 'shop' } } } });
    expect(await it_.get('/v1/tickets', viewer)).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
    expect(await it_.get('/v1/tickets?project=shop', sender)).toMatchObject({ status: 403 });
    expect((await it_.get('/v1/tickets?project=billing', outsider)).json).toEqual({ tickets: [], next: null });
    const doc = await (await fetch(`${it_.running.url}/openapi.json`)).json() as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/tickets', '/v1/tickets/{id}', '/v1/incidents/{id}/ticket']));
    expect(doc.components.schemas).toHaveProperty('TicketView');
    const denied = await runCliInProcess(['tickets', 'show', 'INC-999999', '--url', it_.running.url], { cwd: dir, token: viewer });
    expect(denied.code).toBe(1);
    expect(denied.stderr.join('\n')).toContain('No ticket has ID INC-999999');
  });
});

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
