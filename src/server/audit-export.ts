// Export of the audit log to SIEM sinks (docs/audit.md, "Export to a SIEM"): per sink, claim its
// cursor, read a batch after it, deliver it, move the cursor past what the sink confirmed, commit;
// back off and retry on failure, never skipping an entry. Runs in every serving worker (the cursor's
// row lock lets one of them export a sink at a time) and in `interlock audit export`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { AuditConfig } from '../config/index.js';
import { ConfigError, InputError } from '../core/errors.js';
import { PgAuditExportCursors } from '../store/audit-export-cursors.js';
import { PgAuditLog } from '../store/audit-log.js';
import type { Database } from '../store/schema.js';
import { createCloudEventsSink, createJsonlSink, type AuditSink, type AuditSinkFailure } from './audit-sinks.js';
import { retryDelayMs } from './http-delivery.js';

// The backoff lives with the shared HTTP delivery; kept exported here for the exporter's callers.
export { retryDelayMs };

/** What the exporter logs: failed attempts (warn, or error when `persistent`) and gaps in a file (warn). */
export interface AuditExportLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Where the exporter reports its metrics (`InterlockMetrics` fits). */
export interface AuditExportMetrics {
  /** Entries sink `sink` is behind the log. */
  auditExportLag(sink: string, entries: number): void;
  /** One failed delivery attempt. */
  auditExportFailed(sink: string, reason: string): void;
}

/** Settings of {@link AuditExporter}. */
export interface AuditExporterOptions {
  /** The database holding the audit log and the export cursors. */
  readonly db: Kysely<Database>;
  /** `audit.origin` (event ids and source) and `audit.export` (sinks, poll interval, retry). */
  readonly audit: Pick<AuditConfig, 'origin' | 'export'>;
  readonly logger: AuditExportLogger;
  readonly metrics?: AuditExportMetrics;
  /** Only the sinks of these names; all configured ones when undefined. */
  readonly only?: readonly string[];
  /** Uniform in [0, 1), for the retry jitter. @default Math.random */
  readonly random?: () => number;
}

/** Progress of {@link AuditExporter.catchUp}, reported as it goes. */
export type AuditExportProgress =
  /** A batch was confirmed: the sink's cursor is now `next`, of `target` entries to reach. */
  | { readonly kind: 'progress'; readonly sink: string; readonly next: number; readonly target: number }
  /** Attempt number `attempt` in a row failed; the next one follows in `delayMs` ms. */
  | { readonly kind: 'retry'; readonly sink: string; readonly attempt: number; readonly failure: AuditSinkFailure; readonly delayMs: number };

/** Options of {@link AuditExporter.catchUp}. */
export interface AuditExportCatchUpOptions {
  /** Consecutive failed attempts (without progress) after which a sink is given up, >= 1. @default 5 */
  readonly maxAttempts?: number;
  readonly onProgress?: (progress: AuditExportProgress) => void;
}

/** How one sink's {@link AuditExporter.catchUp} ended. */
export type AuditExportSinkResult =
  /** The cursor reached `target`, the log size when the run began; `exported` entries were confirmed by this run. */
  | { readonly sink: string; readonly ok: true; readonly next: number; readonly target: number; readonly exported: number }
  /** The sink failed `attempts` times in a row; `failure` is the last reason. The cursor is at `next`. */
  | { readonly sink: string; readonly ok: false; readonly next: number; readonly target: number; readonly exported: number; readonly attempts: number; readonly failure: AuditSinkFailure };

/** The outcome of {@link AuditExporter.catchUp}: one result per sink, in configuration order. */
export interface AuditExportReport {
  readonly ok: boolean;
  readonly sinks: readonly AuditExportSinkResult[];
}

/** One delivery attempt: another process held the cursor, nothing to export, a batch confirmed, or a failure (after confirming `next - from` entries). */
type Attempt =
  | { readonly kind: 'busy' }
  | { readonly kind: 'idle'; readonly next: number }
  | { readonly kind: 'delivered'; readonly from: number; readonly next: number }
  | { readonly kind: 'failed'; readonly from: number | undefined; readonly next: number | undefined; readonly failure: AuditSinkFailure };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The sinks of `audit.export.sinks`, built: `jsonl` as {@link createJsonlSink}, `cloudevents` as
 * {@link createCloudEventsSink} with `audit.origin`.
 */
function createAuditSinks(audit: Pick<AuditConfig, 'origin' | 'export'>, logger: AuditExportLogger): AuditSink[] {
  return audit.export.sinks.map((sink) =>
    sink.type === 'jsonl'
      ? createJsonlSink({ name: sink.name, path: sink.path, logger })
      : createCloudEventsSink({
          name: sink.name,
          url: sink.url,
          mode: sink.mode,
          batchSize: sink.batchSize,
          timeoutMs: sink.timeoutMs,
          origin: audit.origin,
          ...(sink.headers === undefined ? {} : { headers: sink.headers }),
          ...(sink.bearerToken === undefined ? {} : { bearerToken: sink.bearerToken }),
        }),
  );
}

/**
 * Exports the audit log to the configured sinks, each on its own: {@link start} keeps every sink
 * caught up until {@link stop} (a serving worker), {@link catchUp} runs until each sink has reached
 * the log's size at the start and resolves (`interlock audit export`).
 *
 * One attempt for a sink, in one transaction: claim its cursor (`FOR UPDATE SKIP LOCKED`; a
 * cursor another process holds is left to it), read up to the sink's batch size of entries after
 * it, deliver them, move the cursor past the entries the sink confirmed, commit. So an entry is
 * never skipped; after a crash the cursor resumes where the last commit left it, and only the batch
 * that was in flight is delivered again. After a failure the sink waits {@link retryDelayMs} (or the
 * receiver's Retry-After) and tries the same entries again, for ever when started; a 3xx or 4xx
 * other than 408 and 429 is logged as an error (status and the first bytes of the body), every
 * failure is counted in `interlock_audit_export_failures_total{sink,reason}`, and the lag
 * (log size − cursor) is set in `interlock_audit_export_lag_entries{sink}` after each attempt. An
 * idle sink looks for new entries every `audit.export.pollIntervalMs`.
 */
export class AuditExporter {
  readonly #log: PgAuditLog;
  readonly #cursors: PgAuditExportCursors;
  readonly #sinks: readonly AuditSink[];
  readonly #settings: AuditConfig['export'];
  readonly #logger: AuditExportLogger;
  readonly #metrics: AuditExportMetrics | undefined;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #running: Promise<unknown> | undefined;

  /**
   * @throws ConfigError `CONFIG_INVALID` when a sink's `bearerTokenEnv` names a variable that was not
   *   set when the configuration was loaded; InputError `INPUT_INVALID` when `only` names a sink that
   *   is not configured.
   */
  constructor(options: AuditExporterOptions) {
    this.#log = new PgAuditLog(options.db);
    this.#cursors = new PgAuditExportCursors(options.db);
    this.#settings = options.audit.export;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    const missing = options.audit.export.sinks.flatMap((sink, index) => (sink.type === 'cloudevents' && sink.bearerTokenEnv !== undefined && sink.bearerToken === undefined ? [{ sink, index }] : []));
    if (missing.length > 0) {
      throw new ConfigError('CONFIG_INVALID', `audit export sink ${missing.map(({ sink }) => sink.name).join(', ')} needs its token: set the environment variable its bearerTokenEnv names`, missing.map(({ sink, index }) => ({
        path: `audit.export.sinks.${index}.bearerTokenEnv`,
        message: `names the environment variable ${sink.type === 'cloudevents' ? sink.bearerTokenEnv : ''}, which is not set; set it to the token`,
        expected: 'a set, non-empty environment variable',
        received: 'unset',
      })));
    }
    const all = createAuditSinks(options.audit, options.logger);
    const unknown = (options.only ?? []).filter((name) => !all.some((sink) => sink.name === name));
    if (unknown.length > 0) {
      throw new InputError('INPUT_INVALID', `No audit export sink is named ${unknown.map((name) => JSON.stringify(name)).join(', ')}; configured: ${all.map((sink) => sink.name).join(', ') || 'none'}.`, unknown.map((name) => ({ path: '--sink', message: 'is not a configured sink', expected: 'a name in audit.export.sinks', received: JSON.stringify(name) })));
    }
    this.#sinks = options.only === undefined ? all : all.filter((sink) => options.only!.includes(sink.name));
  }

  /** The names of the sinks this exporter runs, in configuration order. */
  get sinks(): readonly string[] {
    return this.#sinks.map((sink) => sink.name);
  }

  /** Starts one export loop per sink, in the background. Safe to call more than once. */
  start(): void {
    if (this.#running !== undefined || this.#abort.signal.aborted) return;
    this.#running = Promise.all(this.#sinks.map((sink) => this.#serve(sink)));
  }

  /**
   * Stops every loop: aborts a delivery in flight (its transaction rolls back, so its entries are
   * delivered again later) and waits for the loops to end. Call before closing the database.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  /**
   * Exports each sink until its cursor reaches the log's size at the call (entries appended meanwhile
   * may be exported too), concurrently. A sink that fails `maxAttempts` times in a row without
   * progress is given up. Waits while another process holds a sink's cursor, as long as it makes
   * progress.
   *
   * @returns one result per sink; never rejects for a failing sink (only when the database cannot be
   *   read at the start).
   */
  async catchUp(options: AuditExportCatchUpOptions = {}): Promise<AuditExportReport> {
    const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    const results = await Promise.all(this.#sinks.map((sink) => this.#catchUp(sink, maxAttempts, options.onProgress)));
    return { ok: results.every((result) => result.ok), sinks: results };
  }

  /**
   * Moves sink `sink`'s cursor to `next` (backwards replays entries, forwards skips them), after a
   * delivery in progress. A JSON Lines sink still writes no entry its file already holds.
   *
   * @throws InputError `INPUT_INVALID` when `next` is not in [0, log size].
   */
  async setCursor(sink: string, next: number): Promise<void> {
    await this.#cursors.set(sink, next);
  }

  async #serve(sink: AuditSink): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      const attempt = await this.#attempt(sink);
      if (this.#abort.signal.aborted) return;
      await this.#reportLag(sink, attempt);
      if (attempt.kind === 'failed') {
        failures = attempt.next !== undefined && attempt.from !== undefined && attempt.next > attempt.from ? 1 : failures + 1;
        await this.#pause(this.#failed(sink, attempt, failures));
      } else if (attempt.kind === 'delivered') {
        failures = 0;
      } else {
        failures = 0;
        await this.#pause(this.#settings.pollIntervalMs);
      }
    }
  }

  async #catchUp(sink: AuditSink, maxAttempts: number, onProgress: AuditExportCatchUpOptions['onProgress']): Promise<AuditExportSinkResult> {
    const target = await this.#log.size();
    let next = (await this.#cursors.get(sink.name))?.next ?? 0;
    let exported = 0;
    let failures = 0;
    for (;;) {
      const attempt = await this.#attempt(sink);
      await this.#reportLag(sink, attempt);
      if (attempt.kind === 'failed') {
        if (attempt.next !== undefined && attempt.from !== undefined && attempt.next > attempt.from) {
          exported += attempt.next - attempt.from;
          next = attempt.next;
          failures = 1;
          onProgress?.({ kind: 'progress', sink: sink.name, next, target });
        } else {
          failures += 1;
        }
        const delayMs = this.#failed(sink, attempt, failures);
        if (failures >= maxAttempts || this.#abort.signal.aborted) return { sink: sink.name, ok: false, next, target, exported, attempts: failures, failure: attempt.failure };
        onProgress?.({ kind: 'retry', sink: sink.name, attempt: failures, failure: attempt.failure, delayMs });
        await this.#pause(delayMs);
        continue;
      }
      failures = 0;
      if (attempt.kind === 'delivered') {
        exported += attempt.next - attempt.from;
        next = attempt.next;
        onProgress?.({ kind: 'progress', sink: sink.name, next, target });
        if (next >= target) return { sink: sink.name, ok: true, next, target, exported };
        continue;
      }
      if (attempt.kind === 'idle') return { sink: sink.name, ok: true, next: attempt.next, target, exported };
      // Another process holds the cursor: done once it has moved far enough.
      next = (await this.#cursors.get(sink.name).catch(() => undefined))?.next ?? next;
      if (next >= target) return { sink: sink.name, ok: true, next, target, exported };
      await this.#pause(this.#settings.pollIntervalMs);
    }
  }

  /** One claim-read-deliver-commit of `sink`; never rejects. */
  async #attempt(sink: AuditSink): Promise<Attempt> {
    try {
      const claim = await this.#cursors.claim(sink.name, async (cursor): Promise<{ next: number; value: Attempt }> => {
        const records = await cursor.read(sink.batchSize);
        if (records.length === 0) return { next: cursor.next, value: { kind: 'idle', next: cursor.next } };
        let delivery;
        try {
          delivery = await sink.deliver(records, this.#abort.signal);
        } catch (error) {
          delivery = { delivered: 0, failure: { reason: 'internal', message: `the sink failed unexpectedly: ${errorMessage(error)}`, persistent: true } as const };
        }
        const confirmed = Math.min(Math.max(0, delivery.delivered), records.length);
        const next = confirmed === 0 ? cursor.next : records[confirmed - 1]!.index + 1;
        return { next, value: delivery.failure === undefined ? { kind: 'delivered', from: cursor.next, next } : { kind: 'failed', from: cursor.next, next, failure: delivery.failure } };
      });
      return claim.claimed ? claim.value : { kind: 'busy' };
    } catch (error) {
      return { kind: 'failed', from: undefined, next: undefined, failure: { reason: 'database', message: `the export cursor could not be claimed or moved: ${errorMessage(error)}`, persistent: false } };
    }
  }

  /** Logs and counts a failed attempt; returns the delay before the next one, ms. */
  #failed(sink: AuditSink, attempt: Extract<Attempt, { kind: 'failed' }>, failures: number): number {
    const { failure } = attempt;
    const delayMs = failure.retryAfterMs ?? retryDelayMs(failures, this.#settings.retry, this.#random);
    if (this.#abort.signal.aborted) return delayMs; // an attempt cut short by stop() is not a failure of the sink
    this.#metrics?.auditExportFailed(sink.name, failure.reason);
    const fields = { sink: sink.name, reason: failure.reason, ...(failure.status === undefined ? {} : { status: failure.status }), attempt: failures, retryInMs: delayMs, ...(attempt.next === undefined ? {} : { next: attempt.next }) };
    if (failure.persistent) {
      this.#logger.error(fields, `audit export to sink ${sink.name} failed: ${failure.message}; it will not succeed until the receiver or the sink's configuration is fixed (the export retries in ${delayMs} ms and never skips an entry)`);
    } else {
      this.#logger.warn(fields, `audit export to sink ${sink.name} failed: ${failure.message}; retrying in ${delayMs} ms`);
    }
    return delayMs;
  }

  /** Sets the sink's lag gauge from the attempt (or, when another process holds it, from the stored cursor). */
  async #reportLag(sink: AuditSink, attempt: Attempt): Promise<void> {
    if (this.#metrics === undefined) return;
    try {
      if (attempt.kind === 'idle') {
        this.#metrics.auditExportLag(sink.name, 0);
        return;
      }
      const next = attempt.kind === 'busy' || attempt.next === undefined ? (await this.#cursors.get(sink.name))?.next : attempt.next;
      if (next !== undefined) this.#metrics.auditExportLag(sink.name, Math.max(0, (await this.#log.size()) - next));
    } catch {
      // the database is away: the gauge keeps its last value, and the failure is counted elsewhere
    }
  }

  /** Waits `ms`, or until {@link stop}. */
  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
    } catch {
      // stopped
    }
  }
}

/** Options of {@link exportAuditLog}. */
export interface AuditExportRunOptions extends AuditExportCatchUpOptions {
  /** Only these sinks (by name); all configured ones when undefined. */
  readonly sinks?: readonly string[];
  /** Move the (single) sink's cursor here first, to replay entries from this index. */
  readonly from?: number;
}

/**
 * `interlock audit export` on an open database: moves the cursor when `from` is given, then
 * {@link AuditExporter.catchUp}. Nothing is logged: failures reach `onProgress` and the report.
 *
 * @throws InputError `INPUT_INVALID` when a name in `sinks` is not configured, or `from` is given with other than exactly one sink or is not in [0, log size].
 */
export async function exportAuditLog(db: Kysely<Database>, audit: Pick<AuditConfig, 'origin' | 'export'>, options: AuditExportRunOptions = {}): Promise<AuditExportReport> {
  const silent: AuditExportLogger = { warn: () => undefined, error: () => undefined };
  const exporter = new AuditExporter({ db, audit, logger: silent, ...(options.sinks === undefined ? {} : { only: options.sinks }) });
  if (options.from !== undefined) {
    const [sink, ...others] = exporter.sinks;
    if (sink === undefined || others.length > 0) {
      throw new InputError('INPUT_INVALID', 'Replaying from an index needs exactly one sink: name it with --sink.', [{ path: '--sink', message: 'is required with --from', expected: 'one configured sink name' }]);
    }
    await exporter.setCursor(sink, options.from);
  }
  return exporter.catchUp(options);
}
