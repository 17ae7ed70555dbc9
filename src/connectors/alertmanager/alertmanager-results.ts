// Pure pieces of the Alertmanager connector: the API v2 answers, their normalised form, and the
// mapping of error answers to ConnectorError. No I/O, so unit tests run them on recorded real
// responses (test/fixtures/prometheus/).
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { HttpApiResponse } from '../shared/http-client.js';

const Labels = z.record(z.string(), z.string());

/** A label matcher as Alertmanager writes one: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`. */
export const Matcher = z.string().max(1000, { error: 'at most 1000 characters' })
  .regex(/^\s*[^\s=!~"]+\s*(=~|!~|!=|=)/, { error: 'a matcher such as alertname="HighLatency", service!="checkout" or instance=~"web-.*"' })
  .describe('A label matcher, e.g. service="checkout" or instance=~"web-.*".');

// --- The API v2 answers (extra fields are ignored, so newer Alertmanagers parse too) -------------

/** `GET /api/v2/alerts`: gettableAlerts. */
export const AlertsResponse = z.array(z.object({
  fingerprint: z.string(),
  labels: Labels,
  annotations: Labels,
  startsAt: z.string(),
  endsAt: z.string(),
  updatedAt: z.string(),
  generatorURL: z.string().optional(),
  receivers: z.array(z.object({ name: z.string() })),
  status: z.object({
    state: z.string(),
    silencedBy: z.array(z.string()),
    inhibitedBy: z.array(z.string()),
  }),
}));

/** `GET /api/v2/silences`: gettableSilences. */
export const SilencesResponse = z.array(z.object({
  id: z.string(),
  status: z.object({ state: z.string() }),
  updatedAt: z.string(),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean().optional() })),
  startsAt: z.string(),
  endsAt: z.string(),
  createdBy: z.string(),
  comment: z.string(),
}));

// --- Normalised forms --------------------------------------------------------------------------

const Ms = z.int().describe('ms since the Unix epoch');

/** One alert as `alertmanager.alerts` returns it. */
export const Alert = z.object({
  fingerprint: z.string(),
  labels: Labels,
  annotations: Labels,
  state: z.string().describe('active, suppressed (silenced or inhibited) or unprocessed.'),
  silencedBy: z.array(z.string()).describe('IDs of the silences that silence it.'),
  inhibitedBy: z.array(z.string()).describe('Fingerprints of the alerts that inhibit it.'),
  startsAt: Ms,
  endsAt: Ms.nullable().describe('When it resolves (or resolved) unless refreshed; null when unset.'),
  updatedAt: Ms,
  generatorUrl: z.string().nullable(),
  receivers: z.array(z.string()),
});
export type Alert = z.output<typeof Alert>;

/** One silence as `alertmanager.silences` returns it. */
export const Silence = z.object({
  id: z.string(),
  state: z.string().describe('active, pending or expired.'),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean() })),
  startsAt: Ms,
  endsAt: Ms,
  updatedAt: Ms,
  createdBy: z.string(),
  comment: z.string(),
});
export type Silence = z.output<typeof Silence>;

/** ms of an RFC 3339 time from Alertmanager; Go's zero time (`0001-01-01T00:00:00Z`) and garbage are null. */
export function timeOrNull(text: string): number | null {
  const ms = Date.parse(text);
  return Number.isNaN(ms) || ms <= 0 ? null : ms;
}

/** ms of an RFC 3339 time Alertmanager always sets. @throws ConnectorError `TOOL_FAILED` when it is not one. */
function time(text: string, field: string): number {
  const ms = timeOrNull(text);
  if (ms === null) return fail(`Alertmanager returned ${field} ${JSON.stringify(text.slice(0, 40))}, which is not a time.`, 200, false);
  return ms;
}

/** The alerts normalised, newest `startsAt` first (then by fingerprint), so a cap keeps the newest. */
export function normalizeAlerts(raw: z.output<typeof AlertsResponse>): Alert[] {
  return raw.map((alert) => ({
    fingerprint: alert.fingerprint,
    labels: alert.labels,
    annotations: alert.annotations,
    state: alert.status.state,
    silencedBy: alert.status.silencedBy,
    inhibitedBy: alert.status.inhibitedBy,
    startsAt: time(alert.startsAt, 'startsAt'),
    endsAt: timeOrNull(alert.endsAt),
    updatedAt: time(alert.updatedAt, 'updatedAt'),
    generatorUrl: alert.generatorURL === undefined || alert.generatorURL === '' ? null : alert.generatorURL,
    receivers: alert.receivers.map((receiver) => receiver.name),
  })).sort((a, b) => b.startsAt - a.startsAt || a.fingerprint.localeCompare(b.fingerprint));
}

/** The silences normalised, in Alertmanager's order (active, then pending, then expired). */
export function normalizeSilences(raw: z.output<typeof SilencesResponse>): Silence[] {
  return raw.map((silence) => ({
    id: silence.id,
    state: silence.status.state,
    matchers: silence.matchers.map((matcher) => ({ name: matcher.name, value: matcher.value, isRegex: matcher.isRegex, isEqual: matcher.isEqual ?? true })),
    startsAt: time(silence.startsAt, 'startsAt'),
    endsAt: time(silence.endsAt, 'endsAt'),
    updatedAt: time(silence.updatedAt, 'updatedAt'),
    createdBy: silence.createdBy,
    comment: silence.comment,
  }));
}

/**
 * The answer's body when it is a success of the expected shape.
 * @throws ConnectorError `TOOL_FAILED`: a 400 (a bad filter; Alertmanager's message quoted) is not
 *   retryable, nor are 401, 403 and 404; 429 and 5xx are; an answer of another shape is not.
 */
export function readAlertmanagerResponse<T extends z.ZodType>(response: HttpApiResponse, schema: T, endpoint: string): z.output<T> {
  if (response.status < 200 || response.status > 299) {
    // Alertmanager's error body is a JSON string (or plain text from a proxy).
    const reason = typeof response.json === 'string' ? response.json : response.text.trim() || '(empty body)';
    if (response.status === 400) return fail(`Alertmanager refused ${endpoint} (HTTP 400): ${reason}; fix the filter.`, 400, false);
    if (response.status === 401 || response.status === 403) {
      return fail(`Alertmanager refused the credentials for ${endpoint} (HTTP ${response.status}); check connectors.alertmanager.bearerTokenEnv or basicAuth.`, response.status, false);
    }
    if (response.status === 404) {
      return fail(`Alertmanager has no ${endpoint} (HTTP 404); check connectors.alertmanager.url points at an Alertmanager with API v2 (0.16 or later).`, 404, false);
    }
    const retryable = response.status === 429 || response.status >= 500;
    return fail(`Alertmanager answered ${endpoint} with HTTP ${response.status}: ${reason}${retryable ? '; try again' : ''}.`, response.status, retryable);
  }
  const parsed = schema.safeParse(response.json);
  if (!parsed.success) {
    return fail(`Alertmanager answered ${endpoint} with something that is not an API v2 response (${response.json === undefined ? 'not JSON' : 'unexpected shape'}); check connectors.alertmanager.url.`, response.status, false);
  }
  return parsed.data;
}

function fail(message: string, status: number, retryable: boolean): never {
  throw new ConnectorError('TOOL_FAILED', message, { system: 'alertmanager', status, retryable });
}
