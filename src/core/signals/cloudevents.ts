/**
 * A CloudEvent (already parsed and validated by the `cloudevents` SDK at the HTTP edge, in binary,
 * structured or batch content mode) as a {@link Signal}.
 *
 * - fingerprint: the extension `fingerprint` when the sender sets one (events about one condition,
 *   e.g. its firing and its resolution, share it), else `<source>#<id>`, since `source` + `id`
 *   identify an event (CloudEvents 1.0 §3.1.1: "Consumers MAY assume that Events with identical
 *   source and id are duplicates"), so a redelivered event is a duplicate;
 * - name: `type`; labels: `type`, `source`, `subject` (when set) and every extension attribute whose
 *   value is a string, number or boolean (as text), so `groupBy` can name any of them;
 * - status: `resolved` when the extension `status` (or a JSON object `data.status`) is `resolved`,
 *   else `firing` (an event reports that something happened);
 * - startsAt: `time`, else the time received; annotations: the string values of a JSON object
 *   `data.annotations`, if any, plus `data.summary` / `data.description` when they are strings.
 *
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 */
import type { Signal } from './signal.js';
import { parseRfc3339 } from './time.js';

/** The context attributes and data of one event, as the SDK exposes them (`CloudEvent`). */
export interface CloudEventInput {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly specversion: string;
  readonly subject?: string | undefined;
  readonly time?: string | undefined;
  readonly dataschema?: string | undefined;
  readonly data?: unknown;
  /** Every other attribute (extensions), by name. */
  readonly extensions: Readonly<Record<string, unknown>>;
}

const MAX_LABEL = 4096;

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.slice(0, MAX_LABEL);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * @param event one event; `extensions` must not repeat the named attributes.
 * @param source the configured source name it arrived through.
 * @param receivedAt ms since the epoch, used when the event has no (valid) `time`.
 */
export function signalFromCloudEvent(event: CloudEventInput, source: string, receivedAt: number): Signal {
  const labels: Record<string, string> = { type: event.type, source: event.source };
  if (event.subject !== undefined) labels.subject = event.subject;
  for (const [name, value] of Object.entries(event.extensions)) {
    const asText = text(value);
    if (asText !== undefined && !(name in labels)) labels[name] = asText;
  }
  const data = isRecord(event.data) ? event.data : undefined;
  const annotations: Record<string, string> = {};
  if (data !== undefined && isRecord(data.annotations)) {
    for (const [name, value] of Object.entries(data.annotations)) {
      const asText = text(value);
      if (asText !== undefined) annotations[name] = asText;
    }
  }
  for (const name of ['summary', 'description'] as const) {
    const value = data?.[name];
    if (typeof value === 'string' && annotations[name] === undefined) annotations[name] = value.slice(0, 65_536);
  }
  const resolved = text(event.extensions.status) === 'resolved' || text(data?.status) === 'resolved';
  return {
    source,
    kind: 'cloudevents',
    fingerprint: (text(event.extensions.fingerprint) ?? `${event.source}#${event.id}`).slice(0, 1000),
    status: resolved ? 'resolved' : 'firing',
    name: event.type,
    labels,
    annotations,
    startsAt: (event.time === undefined ? undefined : parseRfc3339(event.time)) ?? receivedAt,
    endsAt: null,
    generatorURL: event.dataschema ?? null,
  };
}
