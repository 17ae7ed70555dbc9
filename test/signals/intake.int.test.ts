// Signal intake on a real server (issue #5): every recorded Alertmanager payload is accepted and
// grouped, or refused naming the field; CloudEvents in every mode; a mapped JSON source behind an
// HMAC; per-source authentication; nothing answered 2xx is lost (stored with its audit entry before
// the answer, or refused whole when the audit log cannot record it); busy (503 to Alertmanager, 429
// to others) before the body is read; fuzzed bodies never give a 5xx.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { allowAuditWrites, refuseAuditWrites } from '../support/audit.js';
import { runCliInProcess } from '../support/cli.js';

const FIXTURES = new URL('../fixtures/payloads/alertmanager-webhook/', import.meta.url).pathname;
const SECRET = 'a-webhook-secret-of-some-length';

let it_: TestInterlock;
let dir: string;
let senderToken: string;
let viewerToken: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-intake-'));
  process.env.TEST_INTAKE_HMAC_SECRET = SECRET;
  await writeFile(join(dir, 'interlock.yaml'), `
intake:
  maxInFlight: 2
  retryAfterSeconds: 7
  sources:
    - { name: alertmanager, type: alertmanager, project: shop }
    - { name: events, type: cloudevents, project: shop }
    - name: grafana
      type: generic
      project: shop
      auth: { type: hmac, secretEnv: TEST_INTAKE_HMAC_SECRET }
      mapping:
        items: body.alerts
        name: item.title
        status: "item.state == 'ok' ? 'resolved' : 'firing'"
        fingerprint: item.id
        labels: "{'service': item.service}"
incidents:
  startMissions: false
`);
  it_ = await startTestInterlock('intake', { env: { INTERLOCK_CONFIG: join(dir, 'interlock.yaml') } });
  senderToken = (await createPrincipalWithToken(it_.running, { name: 'alertmanager-sender', kind: 'service', roles: { shop: ['sender'] } })).token;
  viewerToken = (await createPrincipalWithToken(it_.running, { name: 'vera-viewer', kind: 'human', roles: { '*': ['viewer'] } })).token;
});

afterAll(async () => {
  await it_?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  delete process.env.TEST_INTAKE_HMAC_SECRET;
});

async function send(source: string, body: string | Buffer, headers: Record<string, string> = {}, token: string | null = senderToken): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${it_.running.url}/v1/signals/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body,
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

async function count(table: string): Promise<number> {
  const { rows } = await it_.ledger.query<{ n: number }>(`select count(*)::int as n from interlock.${table}`);
  return rows[0]!.n;
}

describe('Alertmanager webhook', () => {
  const files = ['prometheus-msteams', 'prom2teams'].flatMap((d) => readdirSync(join(FIXTURES, d)).filter((f) => f.endsWith('.json')).map((f) => `${d}/${f}`));

  it.each(files)('%s: the right answer', async (file) => {
    const text = readFileSync(join(FIXTURES, file), 'utf8');
    const before = await count('signals');
    const { status, json } = await send('alertmanager', text);
    if (file.includes('without_mandatory_field')) {
      expect(status).toBe(400);
      expect(json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['body.alerts.0.labels.alertname', 'body.status']);
      expect(await count('signals')).toBe(before);
      return;
    }
    const alerts = (JSON.parse(text) as { alerts: unknown[] }).alerts.length;
    expect(status).toBe(202);
    expect(json.accepted).toBe(alerts);
    expect(await count('signals')).toBe(before + alerts);
    const { rows } = await it_.ledger.query("select count(*)::int as n from interlock.audit_entries where kind = 'signal.received' and convert_from(entry, 'UTF8')::jsonb #>> '{data,intakeId}' = $1", [json.intakeId]);
    expect(rows[0].n).toBe(1);
  });

  it('groups a firing notification into an incident, de-duplicates its repeat, and resolves it', async () => {
    const alert = (status: string) => JSON.stringify({ version: '4', status, receiver: 'interlock', alerts: [{ status, labels: { alertname: 'HighErrorRate', service: 'checkout-group-test' }, startsAt: '2026-11-21T10:00:00Z', endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-21T10:05:00Z' }] });
    const opened = await send('alertmanager', alert('firing'));
    expect(opened.json.incidents).toEqual([{ id: expect.any(String), events: ['opened'], missionId: null }]);
    const id = opened.json.incidents[0].id as string;
    expect((await send('alertmanager', alert('firing'))).json.incidents).toEqual([{ id, events: ['duplicate'], missionId: null }]);
    expect((await send('alertmanager', alert('resolved'))).json.incidents).toEqual([{ id, events: ['changed', 'resolved'], missionId: null }]);
    const shown = await it_.get(`/v1/incidents/${id}`, viewerToken);
    expect(shown.status).toBe(200);
    expect(shown.json.incident).toMatchObject({ id, title: 'HighErrorRate (service=checkout-group-test)', project: 'shop', status: 'resolved' });
    expect(shown.json.signals.map((s: { status: string; events: string[] }) => [s.status, s.events])).toEqual([['firing', ['opened']], ['firing', ['duplicate']], ['resolved', ['changed', 'resolved']]]);
    const listed = await it_.get('/v1/incidents?status=resolved&project=shop', viewerToken);
    expect(listed.json.incidents.map((i: { id: string }) => i.id)).toContain(id);
  });

  it('authenticates per source: 401 without a token, 403 without signals:write in the project', async () => {
    const body = readFileSync(join(FIXTURES, 'prom2teams/all_ok.json'), 'utf8');
    expect((await send('alertmanager', body, {}, null)).json.error.code).toBe('AUTH_REQUIRED');
    const forbidden = await send('alertmanager', body, {}, viewerToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error.details).toMatchObject({ permission: 'signals:write', project: 'shop' });
    expect((await send('nowhere', body)).json.error).toMatchObject({ code: 'SIGNAL_SOURCE_UNKNOWN', details: { sources: ['alertmanager', 'events', 'grafana'] } });
    expect((await send('alertmanager', body, { 'content-type': 'text/plain' })).status).toBe(415);
  });
});

describe('the real Alertmanager 0.25 notifications in ../shared/data/payloads (when present)', () => {
  const dir = new URL('../../../shared/data/payloads/alertmanager-webhook/', import.meta.url).pathname;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  it.skipIf(files.length === 0)(`are accepted with Alertmanager's own fingerprints (${files.length} file(s); skipped without ../shared)`, async () => {
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      const body = JSON.parse(text) as { alerts: Array<{ fingerprint: string; status: string }> };
      const { status, json } = await send('alertmanager', text);
      expect(status, file).toBe(202);
      const { rows } = await it_.ledger.query<{ fingerprint: string; status: string }>('select fingerprint, status from interlock.signals where intake_id = $1 order by seq', [json.intakeId]);
      expect(rows, file).toEqual(body.alerts.map((a) => ({ fingerprint: a.fingerprint, status: a.status })));
    }
  });
});

describe('CloudEvents', () => {
  it('never answers 5xx to a fuzzed event, in any content mode', async () => {
    const modes = ['application/cloudevents+json', 'application/cloudevents-batch+json', 'application/json', 'text/plain'];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...modes), fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string()), fc.dictionary(fc.constantFrom('ce-id', 'ce-source', 'ce-type', 'ce-specversion', 'ce-time', 'ce-x'), fc.string({ maxLength: 20 }).filter((v) => /^[\x20-\x7e]*$/.test(v))), async (type, text, headers) => {
      const { status } = await send('events', text, { 'content-type': type, ...headers });
      expect(status).toBeLessThan(500);
    }), { numRuns: 60 });
  });

  it('takes binary, structured and batch mode, and names what is missing', async () => {
    const binary = await send('events', JSON.stringify({ message: 'deployed' }), { 'ce-specversion': '1.0', 'ce-id': 'e-1', 'ce-source': '/deploys', 'ce-type': 'com.example.deploy', 'ce-service': 'payments' });
    expect(binary.status).toBe(202);
    const structured = await send('events', JSON.stringify({ specversion: '1.0', id: 'e-2', source: '/deploys', type: 'com.example.deploy', service: 'payments' }), { 'content-type': 'application/cloudevents+json' });
    expect(structured.json.incidents[0].events).toEqual(['joined']);
    const batch = await send('events', JSON.stringify([{ specversion: '1.0', id: 'e-2', source: '/deploys', type: 'com.example.deploy', service: 'payments' }, { specversion: '1.0', id: 'e-3', source: '/deploys', type: 'com.example.deploy', service: 'payments' }]), { 'content-type': 'application/cloudevents-batch+json' });
    expect(batch.json).toMatchObject({ accepted: 2, incidents: [{ events: ['duplicate', 'joined'] }] });
    const missing = await send('events', '{}', { 'ce-specversion': '1.0', 'ce-source': '/deploys' });
    expect(missing.status).toBe(400);
    expect(missing.json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['headers.ce-id', 'headers.ce-type']);
  });
});

describe('a generic source behind an HMAC signature', () => {
  const body = JSON.stringify({ alerts: [{ id: 'g-1', title: 'QueueBacklog', state: 'alerting', service: 'orders' }] });
  const sign = (text: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(text).digest('hex')}`;

  it('accepts the signed body and refuses a wrong or missing signature', async () => {
    expect((await send('grafana', body, { 'x-signature-256': sign(body) }, null)).status).toBe(202);
    const wrong = await send('grafana', body, { 'x-signature-256': sign(body, 'another-secret-entirely') }, null);
    expect(wrong.json.error).toMatchObject({ code: 'AUTH_SIGNATURE_INVALID', details: { header: 'x-signature-256' } });
    expect((await send('grafana', body, {}, null)).status).toBe(401);
    const unmapped = JSON.stringify({ alerts: [{ id: 'g-2' }] });
    const bad = await send('grafana', unmapped, { 'x-signature-256': sign(unmapped) }, null);
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.issues[0]).toMatchObject({ path: 'body[item 0]' });
  });
});

describe('nothing answered 2xx is lost', () => {
  it('refuses the whole request with 503 when the audit log cannot record it, storing nothing', async () => {
    await refuseAuditWrites(it_.ledger);
    try {
      const [signals, intakes] = [await count('signals'), await count('signal_intakes')];
      const refused = await send('alertmanager', readFileSync(join(FIXTURES, 'prom2teams/all_ok.json'), 'utf8'));
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe('AUDIT_UNAVAILABLE');
      expect([await count('signals'), await count('signal_intakes')]).toEqual([signals, intakes]);
    } finally {
      await allowAuditWrites(it_.ledger);
    }
  });

  it('answers busy with Retry-After before reading the body when maxInFlight requests are open: 503 to Alertmanager, 429 to others', async () => {
    const url = new URL(`${it_.running.url}/v1/signals/alertmanager`);
    // Two requests whose bodies never finish keep the worker's two intake slots.
    const hanging = [0, 1].map(() => {
      const req = httpRequest({ agent: false, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${senderToken}`, 'content-length': '100000' } });
      req.on('error', () => undefined);
      req.write('{"version":');
      return req;
    });
    // Both must hold their slot before the probe is sent: wait until their sockets are connected and
    // the headers had time to reach the server.
    await Promise.all(hanging.map((req) => new Promise<void>((resolve) => req.once('socket', (socket) => (socket.connecting ? socket.once('connect', () => resolve()) : resolve())))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      let busy: { status: number; json: any; headers: Headers } | undefined;
      for (let i = 0; i < 50 && busy?.status !== 503; i++) {
        busy = await send('alertmanager', readFileSync(join(FIXTURES, 'prom2teams/all_ok.json'), 'utf8'));
        if (busy.status !== 503) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Alertmanager retries 5xx, never 429 (prometheus/alertmanager#2121).
      expect(busy!.status).toBe(503);
      expect(busy!.headers.get('retry-after')).toBe('7');
      expect(busy!.json.error.code).toBe('INTAKE_OVERLOADED');
      const events = await send('events', JSON.stringify({ specversion: '1.0', id: 'busy-1', source: '/x', type: 't' }), { 'content-type': 'application/cloudevents+json' });
      expect(events.status).toBe(429);
      expect(events.json.error.code).toBe('INTAKE_BUSY');
    } finally {
      for (const req of hanging) req.destroy();
    }
    // The slots free up again.
    let after = 503;
    for (let i = 0; i < 50 && after === 503; i++) {
      after = (await send('alertmanager', readFileSync(join(FIXTURES, 'prom2teams/all_ok.json'), 'utf8'))).status;
      if (after === 503) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(after).toBe(202);
  });

  it('never answers 5xx to a fuzzed body', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string()), async (text) => {
      const { status } = await send('alertmanager', text);
      expect(status).toBeLessThan(500);
    }), { numRuns: 60 });
  });
});

describe('interlock signals send, incidents list|show', () => {
  async function cli(args: string[], token: string) {
    const run = await runCliInProcess([...args, '--url', it_.running.url], { cwd: FIXTURES, token });
    return { code: run.code, out: run.stdout, err: run.stderr.join('\n') };
  }

  it('sends a recorded notification and shows the incident it opened', async () => {
    const sent = await cli(['signals', 'send', 'prometheus-msteams/prom_post_request_2_alerts.json', '--source', 'alertmanager'], senderToken);
    expect(sent.code).toBe(0);
    expect(sent.out).toMatch(/^accepted 2 signal\(s\) \(intake [0-9a-f-]{36}\)\nincident [0-9a-f-]{36}: /);
    const id = /incident ([0-9a-f-]{36})/.exec(sent.out)![1]!;
    const listed = await cli(['incidents', 'list', '--project', 'shop'], viewerToken);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(id);
    const shown = await cli(['incidents', 'show', id], viewerToken);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`${id}: open, project shop`);
    const bad = await cli(['signals', 'send', 'prom2teams/without_mandatory_field.json'], senderToken);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('body.status');
  });
});
