import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { HttpApiResponse } from '../shared/http-client.js';
import { AlertmanagerConfigSchema } from './alertmanager-config.js';
import { createAlertmanagerConnector } from './alertmanager-connector.js';
import { Alert, AlertsResponse, normalizeAlerts, normalizeSilences, readAlertmanagerResponse, Silence, SilencesResponse, timeOrNull } from './alertmanager-results.js';
import { connectorErrorOf, recordedResponse } from '../../../test/support/connectors.js';

/** The ConnectorError that reading `response` as an answer of `/api/v2/alerts` throws. */
const failure = (response: HttpApiResponse): ConnectorError => connectorErrorOf(() => readAlertmanagerResponse(response, AlertsResponse, '/api/v2/alerts'));

describe('alertmanager connector', () => {
  const catalog = new ToolCatalog(createAlertmanagerConnector(AlertmanagerConfigSchema.parse({ enabled: true, url: 'http://127.0.0.1:1' })));

  it('checks matchers before any request, naming the bad one', () => {
    expect(catalog.validateArgs('alertmanager.alerts', { filter: ['service="checkout"', 'instance=~"web-.*"', 'severity!=info'], silenced: false }, 'steps.0').ok).toBe(true);
    expect(catalog.validateArgs('alertmanager.alerts', { filter: ['service="checkout"', 'checkout'] }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.filter.1' }] });
    expect(catalog.validateArgs('alertmanager.silences', { state: ['firing'] }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.state.0' }] });
    expect(catalog.validateArgs('alertmanager.alerts', { active: 'yes' }, 'steps.0')).toMatchObject({ ok: false, issues: [{ path: 'steps.0.args.active' }] });
  });

  it('describes both tools as reads with JSON Schemas', () => {
    expect(catalog.describe().map((tool) => [tool.name, tool.risk, tool.permission, typeof tool.outputSchema.properties])).toEqual([
      ['alertmanager.alerts', 'read', 'alertmanager:read', 'object'],
      ['alertmanager.silences', 'read', 'alertmanager:read', 'object'],
    ]);
  });

  it('normalises recorded alerts: state, silences, receivers, ms times', () => {
    const raw = readAlertmanagerResponse(recordedResponse('alertmanager-alerts'), AlertsResponse, '/api/v2/alerts');
    const silenceId = (JSON.parse(readFileSync(new URL('../../../test/fixtures/prometheus/alertmanager-silence-created.json', import.meta.url), 'utf8')) as { body: string }).body;
    const alerts = normalizeAlerts(raw);
    expect(alerts).toHaveLength(1);
    const [alert] = alerts;
    expect(alert).toMatchObject({
      labels: { alertname: 'QueueDeep', service: 'checkout', severity: 'page' },
      annotations: { summary: 'Queue of checkout is deep' },
      state: 'suppressed',
      silencedBy: [(JSON.parse(silenceId) as { silenceID: string }).silenceID],
      inhibitedBy: [],
      receivers: ['default'],
      startsAt: Date.parse(raw[0]!.startsAt),
      endsAt: Date.parse(raw[0]!.endsAt),
    });
    expect(alert!.generatorUrl).toContain('/graph?g0.expr=');
    expect(Alert.safeParse(alert).success).toBe(true);
  });

  it('normalises recorded silences', () => {
    const silences = normalizeSilences(readAlertmanagerResponse(recordedResponse('alertmanager-silences'), SilencesResponse, '/api/v2/silences'));
    expect(silences).toMatchObject([{ state: 'active', createdBy: 'interlock-tests', comment: 'maintenance window', matchers: [{ name: 'service', value: 'checkout', isRegex: false, isEqual: true }] }]);
    expect(silences[0]!.endsAt - silences[0]!.startsAt).toBeGreaterThan(3_500_000);
    expect(Silence.safeParse(silences[0]).success).toBe(true);
  });

  it('orders alerts newest first, so a cap keeps the newest', () => {
    const base = readAlertmanagerResponse(recordedResponse('alertmanager-alerts'), AlertsResponse, '/api/v2/alerts')[0]!;
    const older = { ...base, fingerprint: 'a', startsAt: '2026-01-01T00:00:00Z' };
    const newer = { ...base, fingerprint: 'b', startsAt: '2026-01-02T00:00:00Z' };
    expect(normalizeAlerts([older, newer]).map((alert) => alert.fingerprint)).toEqual(['b', 'a']);
  });

  it("reads Go's zero time as no time", () => {
    expect(timeOrNull('0001-01-01T00:00:00Z')).toBeNull();
    expect(timeOrNull('2026-01-01T00:00:00.5Z')).toBe(Date.parse('2026-01-01T00:00:00.500Z'));
  });

  it('maps a bad filter to a non-retryable error quoting Alertmanager', () => {
    expect(failure(recordedResponse('alertmanager-error-bad-filter'))).toMatchObject({
      code: 'TOOL_FAILED', system: 'alertmanager', systemStatus: 400, retryable: false, message: expect.stringContaining('error parsing regexp'),
    });
  });

  it('retries 5xx and 429, not 401, 404 or an answer of another shape', () => {
    expect(failure({ status: 503, json: undefined, text: 'Service Unavailable' })).toMatchObject({ retryable: true, systemStatus: 503 });
    expect(failure({ status: 429, json: undefined, text: '' })).toMatchObject({ retryable: true });
    expect(failure({ status: 401, json: undefined, text: '' })).toMatchObject({ retryable: false, message: expect.stringContaining('bearerTokenEnv') });
    expect(failure({ status: 404, json: undefined, text: '404 page not found' })).toMatchObject({ retryable: false, message: expect.stringContaining('connectors.alertmanager.url') });
    expect(failure({ status: 200, json: { alerts: [] }, text: '' })).toMatchObject({ retryable: false, message: expect.stringContaining('unexpected shape') });
  });
});
