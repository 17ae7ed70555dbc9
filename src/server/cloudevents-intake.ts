/**
 * CloudEvents 1.0 over HTTP at the intake edge: binary, structured and batch content modes. The
 * required context attributes are checked here first (the `cloudevents` SDK fills in a missing `id`
 * and `time`, which would defeat de-duplication), naming each bad field; the SDK then builds the
 * events (data decoding by content type, `data_base64`, extensions).
 *
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { z } from 'zod';
import type { Issue } from '../core/errors.js';
import type { CloudEventInput } from '../core/signals/cloudevents.js';
import { parseRfc3339 } from '../core/signals/time.js';
import { toIssues } from '../core/validation.js';

/** Most events one batch may carry. */
export const MAX_CLOUDEVENTS_PER_BATCH = 1000;

const KNOWN = new Set(['id', 'source', 'type', 'specversion', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64']);

/** Context attribute names: lower-case letters and digits (CloudEvents 1.0 §2 "Attribute Naming Convention"). */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

const NonEmpty = z.string().min(1, 'is empty');
const Time = z.string().refine((text) => parseRfc3339(text) !== undefined, { message: 'is not an RFC 3339 date-time', params: { expected: 'an RFC 3339 date-time' } });

/** The required and optional context attributes of one event (JSON format, or binary-mode headers). */
const AttributesSchema = z.looseObject({
  specversion: z.literal('1.0', { message: 'is not "1.0": only CloudEvents 1.0 is understood' }),
  id: NonEmpty.max(1000),
  source: NonEmpty.max(4096),
  type: NonEmpty.max(1000),
  subject: NonEmpty.max(4096).optional(),
  time: Time.optional(),
  datacontenttype: NonEmpty.max(200).optional(),
  dataschema: NonEmpty.max(4096).optional(),
});

/** Issues of one event's attributes: the schema's, and each extension name that breaks the convention. */
function attributeIssues(event: unknown, prefix: string): Issue[] {
  const result = AttributesSchema.safeParse(event, { reportInput: true });
  const issues = result.success ? [] : toIssues(result.error, prefix);
  if (typeof event === 'object' && event !== null && !Array.isArray(event)) {
    for (const name of Object.keys(event)) {
      if (!KNOWN.has(name) && !ATTRIBUTE_NAME.test(name)) issues.push({ path: `${prefix}${prefix === '' ? '' : '.'}${name}`, message: 'is not a valid extension attribute name', expected: 'lower-case letters and digits, at most 20' });
    }
  }
  return issues;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** The SDK's event as the core takes it; `time` is the one sent (the SDK invents one when absent and reformats it). */
function toInput(event: CloudEventV1<unknown>, sentTime: unknown): CloudEventInput {
  const extensions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event)) if (!KNOWN.has(name) && value !== undefined) extensions[name] = value;
  return {
    id: event.id, source: event.source, type: event.type, specversion: event.specversion,
    subject: event.subject, time: typeof sentTime === 'string' ? sentTime : undefined, dataschema: event.dataschema, data: event.data, extensions,
  };
}

/**
 * The events of one HTTP request.
 *
 * @param headers the request headers (lower-case names, as Node gives them).
 * @param body the raw body.
 * @returns the events, or the issues (paths `body.<attribute>`, `body[i].<attribute>` or
 *   `headers.ce-<attribute>`): never throws.
 */
export function parseCloudEventsRequest(headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): { readonly events: readonly CloudEventInput[]; readonly issues: readonly [] } | { readonly events: readonly []; readonly issues: readonly Issue[] } {
  const type = mediaType(typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined);
  const fail = (issues: Issue[]) => ({ events: [] as const, issues });
  try {
    if (type === 'application/cloudevents+json' || type === 'application/cloudevents-batch+json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return fail([{ path: 'body', message: 'is not JSON', expected: `a JSON ${type.endsWith('batch+json') ? 'array of events' : 'event'}` }]);
      }
      const batch = type === 'application/cloudevents-batch+json';
      const list = batch ? parsed : [parsed];
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_CLOUDEVENTS_PER_BATCH) {
        return fail([{ path: 'body', message: batch ? 'is not a batch of 1..1000 events' : 'is not an event', expected: batch ? `a JSON array of 1..${MAX_CLOUDEVENTS_PER_BATCH} events` : 'a JSON object' }]);
      }
      const issues = list.flatMap((event, i) => attributeIssues(event, batch ? `body[${i}]` : 'body'));
      if (issues.length > 0) return fail(issues);
      const made = HTTP.toEvent({ headers: { 'content-type': type }, body: body.toString('utf8') });
      const events = Array.isArray(made) ? made : [made];
      return { events: events.map((event, i) => toInput(event, (list[i] as { time?: unknown }).time)), issues: [] };
    }
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith('ce-') && typeof value === 'string') attributes[name.slice(3)] = decodeURIComponent(value);
    }
    if (Object.keys(attributes).length === 0) {
      return fail([{ path: 'headers.content-type', message: `is ${type === '' ? 'missing' : type} and there are no ce- headers: no CloudEvent in this request`, expected: 'application/cloudevents+json, application/cloudevents-batch+json, or binary mode with ce-specversion, ce-id, ce-source, ce-type' }]);
    }
    const issues = attributeIssues(attributes, '');
    if (issues.length > 0) return fail(issues.map((issue) => ({ ...issue, path: `headers.ce-${issue.path}` })));
    const made = HTTP.toEvent({ headers: { ...headers }, body: body.length === 0 ? undefined : /json|^text\//.test(type) ? body.toString('utf8') : body });
    return { events: (Array.isArray(made) ? made : [made]).map((event) => toInput(event, attributes.time)), issues: [] };
  } catch (error) {
    return fail([{ path: 'body', message: `is not a CloudEvent: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}
