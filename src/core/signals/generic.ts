/**
 * Signals from any JSON body, through a mapping written in CEL: one expression per signal field,
 * evaluated over the request `body` and, per item, `item` (each element of `items`, or the body
 * itself). JSON numbers are CEL doubles; label and annotation values that are numbers or booleans
 * become text. A mapping is compiled (parsed and checked) when the configuration loads, so a typo is
 * a start-up error, not a 3 a.m. surprise.
 *
 * ```yaml
 * mapping:
 *   items: body.alerts                        # a list; default: [body]
 *   name: item.title                          # required: a string
 *   status: "item.state == 'ok' ? 'resolved' : 'firing'"   # default: 'firing'
 *   fingerprint: item.id                      # default: the fingerprint of the labels
 *   labels: "{'service': item.tags.service}"  # map of text; default: {}
 *   annotations: "{'summary': item.message}"  # map of text; default: {}
 *   startsAt: item.time                       # RFC 3339 text or ms; default: the time received
 * ```
 *
 * @see https://github.com/google/cel-spec/blob/master/doc/langdef.md
 */
import { Environment, type ParseResult } from '@marcbachmann/cel-js';
import type { Issue } from '../errors.js';
import { labelsFingerprint } from './fingerprint.js';
import { SIGNAL_STATUSES, type Signal, type SignalStatus } from './signal.js';
import { parseRfc3339 } from './time.js';

/** The mapping as configured: CEL expressions by signal field. */
export interface GenericMapping {
  readonly items?: string | undefined;
  readonly name: string;
  readonly status?: string | undefined;
  readonly fingerprint?: string | undefined;
  readonly labels?: string | undefined;
  readonly annotations?: string | undefined;
  readonly startsAt?: string | undefined;
}

const FIELDS = ['items', 'name', 'status', 'fingerprint', 'labels', 'annotations', 'startsAt'] as const;
type Field = (typeof FIELDS)[number];

/** A compiled mapping; {@link signalsFromGeneric} runs it. */
export interface CompiledMapping {
  readonly expressions: Readonly<Partial<Record<Field, ParseResult>>>;
}

/** Most items one body may map to. */
export const MAX_GENERIC_ITEMS = 1000;

let environment: Environment | undefined;

/** What an expression that threw gave: its issue is recorded already. */
const FAILED = Symbol('failed');

function celEnvironment(): Environment {
  if (environment === undefined) {
    environment = new Environment({ enableOptionalTypes: true });
    environment.registerVariable('body', 'dyn');
    environment.registerVariable('item', 'dyn');
  }
  return environment;
}

/**
 * Parses and type-checks each expression of `mapping`.
 * @returns the compiled mapping, or the problems, one per bad field, with `path` `<prefix>.<field>`.
 */
export function compileGenericMapping(mapping: GenericMapping, prefix: string): { readonly mapping: CompiledMapping; readonly issues: readonly [] } | { readonly mapping: null; readonly issues: readonly Issue[] } {
  const expressions: Partial<Record<Field, ParseResult>> = {};
  const issues: Issue[] = [];
  for (const field of FIELDS) {
    const source = mapping[field];
    if (source === undefined) continue;
    try {
      const parsed = celEnvironment().parse(source);
      const checked = parsed.check();
      if (!checked.valid) throw checked.error as Error;
      expressions[field] = parsed;
    } catch (error) {
      const summary = (error as { summary?: unknown }).summary;
      issues.push({ path: `${prefix}.${field}`, message: `is not a valid CEL expression: ${typeof summary === 'string' ? summary : error instanceof Error ? error.message.split('\n')[0] : String(error)}`, expected: 'a CEL expression over body and item' });
    }
  }
  return issues.length === 0 ? { mapping: { expressions }, issues: [] } : { mapping: null, issues };
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

function asTextMap(value: unknown, path: string, issues: Issue[]): Record<string, string> {
  if (value === FAILED) return {};
  const entries = value instanceof Map ? [...(value as Map<unknown, unknown>).entries()] : typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : undefined;
  if (entries === undefined) {
    issues.push({ path, message: 'did not give a map', expected: 'a map of text' });
    return {};
  }
  const result: Record<string, string> = {};
  for (const [key, item] of entries) {
    const text = asText(item);
    if (typeof key === 'string' && key !== '' && text !== undefined) result[key] = text;
  }
  return result;
}

/**
 * Maps one JSON body to signals. Never throws: an expression that fails on this body (a missing
 * field, a wrong type) is an issue naming the field and the item, so the request answers 400.
 *
 * @param receivedAt ms since the epoch: `startsAt` when the mapping has none.
 */
export function signalsFromGeneric(compiled: CompiledMapping, body: unknown, source: string, receivedAt: number): { readonly signals: readonly Signal[]; readonly issues: readonly Issue[] } {
  const { expressions } = compiled;
  const issues: Issue[] = [];
  const run = (field: Field, context: Record<string, unknown>, path: string): unknown => {
    const expression = expressions[field];
    if (expression === undefined) return undefined;
    try {
      return expression(context);
    } catch (error) {
      issues.push({ path, message: `mapping.${field} failed on this body: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` });
      return FAILED;
    }
  };
  let items: unknown[] = [body];
  if (expressions.items !== undefined) {
    const listed = run('items', { body, item: null }, 'body');
    if (!Array.isArray(listed)) {
      if (issues.length === 0) issues.push({ path: 'body', message: 'mapping.items did not give a list', expected: 'a list' });
      return { signals: [], issues };
    }
    if (listed.length === 0 || listed.length > MAX_GENERIC_ITEMS) return { signals: [], issues: [{ path: 'body', message: `mapping.items gave ${listed.length} items`, expected: `1..${MAX_GENERIC_ITEMS} items` }] };
    items = listed;
  }
  const signals: Signal[] = [];
  items.forEach((item, i) => {
    const context = { body, item };
    const path = expressions.items === undefined ? 'body' : `body[item ${i}]`;
    const before = issues.length;
    const nameValue = run('name', context, path);
    const name = asText(nameValue);
    if (nameValue !== FAILED && (name === undefined || name === '')) issues.push({ path, message: 'mapping.name did not give a non-empty text', expected: 'a string' });
    const statusValue = expressions.status === undefined ? 'firing' : run('status', context, path);
    if (statusValue !== FAILED && !(SIGNAL_STATUSES as readonly unknown[]).includes(statusValue)) issues.push({ path, message: 'mapping.status did not give firing or resolved', expected: 'firing | resolved', ...(asText(statusValue) === undefined ? {} : { received: asText(statusValue)! }) });
    const labels = expressions.labels === undefined ? {} : asTextMap(run('labels', context, path), path, issues);
    const annotations = expressions.annotations === undefined ? {} : asTextMap(run('annotations', context, path), path, issues);
    const fingerprintValue = expressions.fingerprint === undefined ? labelsFingerprint({ ...labels, alertname: name ?? '' }) : run('fingerprint', context, path);
    const fingerprint = asText(fingerprintValue);
    if (fingerprintValue !== FAILED && (fingerprint === undefined || fingerprint === '')) issues.push({ path, message: 'mapping.fingerprint did not give a non-empty text', expected: 'a string' });
    let startsAt = receivedAt;
    if (expressions.startsAt !== undefined) {
      const value = run('startsAt', context, path);
      const ms = typeof value === 'string' ? parseRfc3339(value) : typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
      if (ms === undefined && value !== FAILED) issues.push({ path, message: 'mapping.startsAt did not give a time', expected: 'an RFC 3339 date-time or ms since the epoch' });
      else if (ms !== undefined) startsAt = ms;
    }
    if (issues.length > before) return;
    signals.push({ source, kind: 'generic', fingerprint: fingerprint!.slice(0, 1000), status: statusValue as SignalStatus, name: name!, labels: { ...labels, alertname: name! }, annotations, startsAt, endsAt: null, generatorURL: null });
  });
  return { signals: issues.length === 0 ? signals : [], issues };
}
