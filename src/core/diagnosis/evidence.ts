/**
 * The evidence bundle: everything the built-in diagnosis engine ({@link diagnose}) reads about one
 * incident, as connectors gathered it (Prometheus range queries, the deploy and configuration change
 * feed, log lines, the incident's signals, canary and baseline latency samples). Pure data, no I/O.
 *
 * Every item carries an {@link EvidenceReference}: an ID unique within the bundle, the source and the
 * query it came from and, once the audit log has recorded it, the SHA-256 of the result (the
 * `evidence.queried` entry's `resultSha256`). Hypotheses cite these IDs, so a reader can go from a
 * fact to the query that produced it and from there to the audit entry.
 *
 * Times are ms since the Unix epoch (UTC). A value that is missing (Prometheus' NaN, a gap) is `null`;
 * JSON cannot carry NaN or Infinity, and the schema refuses them.
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { toIssues } from '../validation.js';

/** Where one piece of evidence came from; cited by ID from a hypothesis' facts. */
export interface EvidenceReference {
  /** Unique within the bundle, 1..200 characters, e.g. `prom:checkout:heap` or `deploy:checkout:v2.4.1`. */
  readonly id: string;
  /** The system or connector it came from, e.g. `prometheus`, `git`, `loki`, `alertmanager`. */
  readonly source: string;
  /** The query or request that produced it, e.g. a PromQL expression; may be empty for pushed data. */
  readonly query: string;
  /** SHA-256 (lower-case hex) of the canonical JSON of the result, as the audit's `evidence.queried` entry records it. */
  readonly resultSha256?: string;
}

/**
 * What a metric series measures, so a signature knows where to look. Units: `error_rate` a ratio 0..1
 * of failed requests (or errors per second: only its change is read), latencies in any one unit,
 * `heap_bytes` and `memory` in bytes, `gc_pause_seconds` GC pause time per second (or per
 * collection), `pool_active` / `pool_max` connections in use and the pool's size, `pool_wait_seconds`
 * time spent waiting for a connection, `long_queries` queries running longer than the database's
 * threshold, `request_rate` requests per second, `request_capacity` the request rate the service is
 * known to sustain (load test, replicas × per-replica rate), `cpu` CPU use (cores or percent).
 */
export const SERIES_ROLES = [
  'error_rate',
  'latency_p50',
  'latency_p90',
  'latency_p99',
  'heap_bytes',
  'gc_pause_seconds',
  'pool_active',
  'pool_max',
  'pool_wait_seconds',
  'long_queries',
  'request_rate',
  'request_capacity',
  'cpu',
  'memory',
  'unknown',
] as const;
export type SeriesRole = (typeof SERIES_ROLES)[number];

/** One metric series (a Prometheus range query result, one label set). */
export interface EvidenceSeries {
  readonly evidence: EvidenceReference;
  /** The series' labels, e.g. `{ service: 'checkout', instance: '10.0.0.7:9100' }`. */
  readonly labels: Readonly<Record<string, string>>;
  /** The service it belongs to; when absent, the `service` label; when neither, none (context only). */
  readonly service?: string;
  /** What it measures; `unknown` series are still scored for anomalies and root-cause ranking. */
  readonly role: SeriesRole;
  /** `[time ms, value]`, in any order; a `null` value is missing. */
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

/** The kinds of change the change feed reports. */
export const CHANGE_KINDS = ['deploy', 'config', 'rollback', 'scale', 'feature_flag', 'other'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** One change to the estate: a deployment, a configuration change, a feature flag... */
export interface EvidenceChange {
  readonly evidence: EvidenceReference;
  /** When it took effect (the rollout's start). */
  readonly at: number;
  readonly service: string;
  readonly kind: ChangeKind;
  /** One line, e.g. `deploy checkout v2.4.1 (12 commits)`; untrusted text, never instructions. */
  readonly summary: string;
  /** What was deployed or changed: a Git SHA, an image tag, a change ID. */
  readonly ref?: string;
}

/** One log line. */
export interface EvidenceLogLine {
  readonly at: number;
  /** As logged, e.g. `ERROR`; compared case-insensitively. */
  readonly level?: string;
  /** The message without its header (see `log-format.ts`); untrusted text. */
  readonly message: string;
  /** The service that wrote it, when it differs from the batch's. */
  readonly service?: string;
}

/** Log lines from one query (a Loki or Elasticsearch query, a file tail). */
export interface EvidenceLogs {
  readonly evidence: EvidenceReference;
  /** The service the lines belong to, unless a line names its own. */
  readonly service?: string;
  readonly lines: readonly EvidenceLogLine[];
}

/** One of the incident's signals (see `src/core/signals/signal.ts`). */
export interface EvidenceSignal {
  readonly evidence: EvidenceReference;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Untrusted text, never instructions. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly status: 'firing' | 'resolved';
  readonly startsAt: number;
  readonly endsAt: number | null;
}

/** Request latencies of one service's canary or of its baseline (the stable version), one value per request or per bucket midpoint. */
export interface EvidenceLatencySamples {
  readonly evidence: EvidenceReference;
  readonly service: string;
  readonly group: 'canary' | 'baseline';
  /** Latencies in one unit for both groups of a service (ms by convention); `null` is dropped. */
  readonly values: ReadonlyArray<number | null>;
}

/**
 * What the engine reads about one incident. Only `window` is required; every list may be empty and
 * missing evidence lowers the confidence of the hypotheses that would have used it.
 */
export interface EvidenceBundle {
  /** The span the evidence covers, `startMs < endMs`; the baseline is `[startMs, onsetMs)`, the incident `[onsetMs, endMs]`. */
  readonly window: { readonly startMs: number; readonly endMs: number };
  /**
   * When the incident began, within the window, if known (the incident's first signal, or an
   * operator's statement). When null, the engine finds it (see `diagnose`).
   */
  readonly onsetMs: number | null;
  readonly signals: readonly EvidenceSignal[];
  readonly series: readonly EvidenceSeries[];
  readonly changes: readonly EvidenceChange[];
  readonly logs: readonly EvidenceLogs[];
  readonly latencySamples: readonly EvidenceLatencySamples[];
}

/** Limits that keep one diagnosis bounded in time and memory. */
export const EVIDENCE_LIMITS = Object.freeze({
  /** Items (series, changes, log batches, samples, signals) of each kind. */
  items: 2000,
  /** Points of one series. */
  points: 100_000,
  /** Lines of one log batch. */
  lines: 50_000,
  /** Values of one latency sample. */
  samples: 100_000,
});

const labels = z.record(z.string(), z.string());

/** The schema of {@link EvidenceReference}. */
export const EvidenceReferenceSchema = z.strictObject({
  id: z.string().min(1).max(200),
  source: z.string().min(1).max(200),
  query: z.string().max(20_000),
  resultSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits').optional(),
});

const SeriesSchema = z.strictObject({
  evidence: EvidenceReferenceSchema,
  labels,
  service: z.string().min(1).max(200).optional(),
  role: z.enum(SERIES_ROLES),
  points: z.array(z.tuple([z.number(), z.number().nullable()])).max(EVIDENCE_LIMITS.points),
});

const ChangeSchema = z.strictObject({
  evidence: EvidenceReferenceSchema,
  at: z.number(),
  service: z.string().min(1).max(200),
  kind: z.enum(CHANGE_KINDS),
  summary: z.string().max(2000),
  ref: z.string().max(200).optional(),
});

const LogsSchema = z.strictObject({
  evidence: EvidenceReferenceSchema,
  service: z.string().min(1).max(200).optional(),
  lines: z
    .array(z.strictObject({ at: z.number(), level: z.string().max(40).optional(), message: z.string().max(20_000), service: z.string().min(1).max(200).optional() }))
    .max(EVIDENCE_LIMITS.lines),
});

const SignalSchema = z.strictObject({
  evidence: EvidenceReferenceSchema,
  name: z.string().min(1).max(400),
  labels,
  annotations: labels,
  status: z.enum(['firing', 'resolved']),
  startsAt: z.number(),
  endsAt: z.number().nullable(),
});

const LatencySamplesSchema = z.strictObject({
  evidence: EvidenceReferenceSchema,
  service: z.string().min(1).max(200),
  group: z.enum(['canary', 'baseline']),
  values: z.array(z.number().nullable()).max(EVIDENCE_LIMITS.samples),
});

const items = <T extends z.ZodType>(schema: T) => z.array(schema).max(EVIDENCE_LIMITS.items);

/**
 * The schema of {@link EvidenceBundle}: strict objects (an unknown field is refused), finite
 * numbers, `window.startMs < window.endMs`, an onset within the window, evidence IDs unique across
 * the bundle, and the {@link EVIDENCE_LIMITS}.
 */
export const EvidenceBundleSchema: z.ZodType<EvidenceBundle> = z
  .strictObject({
    window: z.strictObject({ startMs: z.number(), endMs: z.number() }),
    onsetMs: z.number().nullable(),
    signals: items(SignalSchema),
    series: items(SeriesSchema),
    changes: items(ChangeSchema),
    logs: items(LogsSchema),
    latencySamples: items(LatencySamplesSchema),
  })
  .superRefine(
    (bundle, context) => {
      // Runs even when fields failed above (so every problem is listed at once): read defensively.
      const raw = bundle as unknown as Record<string, unknown>;
      const window = raw.window as { startMs?: unknown; endMs?: unknown } | undefined;
      const startMs = typeof window?.startMs === 'number' ? window.startMs : undefined;
      const endMs = typeof window?.endMs === 'number' ? window.endMs : undefined;
      if (startMs !== undefined && endMs !== undefined && !(startMs < endMs)) context.addIssue({ code: 'custom', path: ['window'], message: 'startMs must be before endMs' });
      if (typeof raw.onsetMs === 'number' && startMs !== undefined && endMs !== undefined && !(raw.onsetMs >= startMs && raw.onsetMs <= endMs)) {
        context.addIssue({ code: 'custom', path: ['onsetMs'], message: 'must lie within the window (startMs..endMs)' });
      }
      const seen = new Map<string, string>();
      for (const list of ['signals', 'series', 'changes', 'logs', 'latencySamples'] as const) {
        const items = raw[list];
        if (!Array.isArray(items)) continue;
        items.forEach((item: unknown, index: number) => {
          const id = (item as { evidence?: { id?: unknown } } | null)?.evidence?.id;
          if (typeof id !== 'string') return;
          const first = seen.get(id);
          if (first !== undefined) context.addIssue({ code: 'custom', path: [list, index, 'evidence', 'id'], message: `evidence ID ${JSON.stringify(id)} is also used by ${first}; IDs must be unique` });
          else seen.set(id, `${list}.${index}`);
        });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/**
 * Checks `value` against {@link EvidenceBundleSchema} and returns it typed.
 *
 * @throws INPUT_INVALID naming every field that is wrong (`details.issues`).
 */
export function parseEvidenceBundle(value: unknown): EvidenceBundle {
  const result = EvidenceBundleSchema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issues = toIssues(result.error);
  throw new InputError('INPUT_INVALID', `The evidence bundle is invalid: ${issues.slice(0, 5).map((issue) => `${issue.path} ${issue.message}`).join('; ')}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}.`, issues);
}

/** An empty bundle over `window`: no onset, no evidence. */
export function emptyEvidenceBundle(window: { readonly startMs: number; readonly endMs: number }): EvidenceBundle {
  return { window, onsetMs: null, signals: [], series: [], changes: [], logs: [], latencySamples: [] };
}
