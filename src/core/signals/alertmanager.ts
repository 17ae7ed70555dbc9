/**
 * The Alertmanager webhook (payload version "4") as Interlock takes it in: a Zod schema that names
 * every wrong field, and the mapping of each alert to a {@link Signal}.
 *
 * Tolerates what real senders send: alerts without `status` (older Alertmanager output: the
 * notification's `status` applies), without `fingerprint` (computed from the labels exactly as
 * Alertmanager does, so de-duplication keys agree), timestamps with offsets and up to nine fraction
 * digits, fields a newer Alertmanager adds. Refuses what cannot be grouped or de-duplicated: no
 * top-level `status`, an alert without an `alertname` label, a timestamp that is not RFC 3339.
 *
 * @see https://prometheus.io/docs/alerting/latest/configuration/#webhook_config (the payload)
 */
import { z } from 'zod';
import { labelsFingerprint } from './fingerprint.js';
import { SIGNAL_STATUSES, type Signal } from './signal.js';
import { GO_ZERO_TIME, parseRfc3339 } from './time.js';

/** Most alerts one notification may carry (Alertmanager's `max_alerts` is unlimited by default). */
export const MAX_ALERTS_PER_NOTIFICATION = 1000;

const LabelValue = z.string().max(4096);
const LabelSet = z.record(z.string().min(1).max(200), LabelValue);
const Annotations = z.record(z.string().min(1).max(200), z.string().max(65_536));

const Timestamp = z.string().max(64).transform((text, ctx) => {
  const ms = parseRfc3339(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'is not an RFC 3339 date-time', input: text, params: { expected: 'an RFC 3339 date-time such as 2026-11-21T09:41:09.272Z' } });
    return z.NEVER;
  }
  return ms;
});

const AlertSchema = z
  .looseObject({
    status: z.enum(SIGNAL_STATUSES).optional(),
    labels: LabelSet.refine((labels) => typeof labels.alertname === 'string' && labels.alertname !== '', {
      message: 'has no alertname label: it cannot be named or grouped',
      path: ['alertname'],
      params: { expected: 'a non-empty alertname label' },
    }),
    annotations: Annotations.default({}),
    startsAt: Timestamp,
    endsAt: z.union([z.literal(GO_ZERO_TIME).transform(() => null), Timestamp]).optional(),
    generatorURL: z.string().max(8192).optional(),
    fingerprint: z.string().regex(/^[0-9a-f]{16}$/, 'is not an Alertmanager fingerprint').optional(),
  });

/** The webhook body; unknown fields are kept (newer Alertmanager versions add some). */
export const AlertmanagerWebhookSchema = z.looseObject({
  version: z.literal('4', { message: 'is not "4": only webhook payload version 4 is understood' }),
  status: z.enum(SIGNAL_STATUSES),
  receiver: z.string().max(1000).optional(),
  groupKey: z.string().max(65_536).optional(),
  truncatedAlerts: z.int().min(0).optional(),
  groupLabels: LabelSet.optional(),
  commonLabels: LabelSet.optional(),
  commonAnnotations: Annotations.optional(),
  externalURL: z.string().max(8192).optional(),
  alerts: z.array(AlertSchema).min(1, 'is empty: a notification carries at least one alert').max(MAX_ALERTS_PER_NOTIFICATION),
});

/** A parsed notification: its alerts as signals, and what the notification said about itself. */
export interface AlertmanagerNotification {
  readonly signals: readonly Signal[];
  /** Alertmanager's group key of the notification, when sent. */
  readonly groupKey: string | null;
  /** Alerts Alertmanager left out of this notification (`max_alerts`); they are not lost to it. */
  readonly truncatedAlerts: number;
}

/**
 * Maps a validated webhook body (`AlertmanagerWebhookSchema.parse`) to signals, one per alert, in
 * the order sent. An alert's status is its own, else the notification's; `endsAt` is null when it
 * was not sent or was Go's zero time (firing with no end).
 *
 * @param source the configured source name the body arrived through.
 */
export function signalsFromAlertmanager(body: z.output<typeof AlertmanagerWebhookSchema>, source: string): AlertmanagerNotification {
  const signals = body.alerts.map((alert): Signal => ({
    source,
    kind: 'alertmanager',
    fingerprint: alert.fingerprint ?? labelsFingerprint(alert.labels),
    status: alert.status ?? body.status,
    name: alert.labels.alertname!,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    endsAt: alert.endsAt ?? null,
    generatorURL: alert.generatorURL ?? null,
  }));
  return { signals, groupKey: body.groupKey ?? null, truncatedAlerts: body.truncatedAlerts ?? 0 };
}
