// The SIEM sinks of the audit export: a JSON Lines file (exactly once, across crashes) and a
// CloudEvents 1.0 receiver over HTTP (at least once, deduplicated by event id). A sink delivers one
// batch per call and says how much of it is confirmed; the exporter (`audit-export.ts`) moves the
// cursor and retries.
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { encodeBase64 } from '../core/audit/base64.js';
import { auditCloudEvent, formatAuditExportLine, parseAuditExportLine, type AuditExportData, type AuditExportRecord } from '../core/audit/export.js';
import { postOnce } from './http-delivery.js';

/** Why a delivery attempt failed; the `reason` label of `interlock_audit_export_failures_total`. */
export type AuditExportFailureReason = 'timeout' | 'network' | 'http' | 'file' | 'database' | 'internal';

/** A failed delivery attempt. Carries no header value and no token. */
export interface AuditSinkFailure {
  readonly reason: AuditExportFailureReason;
  /** What failed, in one line: for an HTTP answer its status and the first bytes of its body. */
  readonly message: string;
  /** The HTTP status, when the receiver answered. */
  readonly status?: number;
  /** The receiver's Retry-After (seconds or an HTTP date), as a delay in ms (at most 1 hour). */
  readonly retryAfterMs?: number;
  /**
   * True when trying again unchanged is likely to fail again (an HTTP 3xx or 4xx other than 408 and
   * 429, a file that cannot be written): logged as an error. The exporter retries anyway: it never
   * skips an entry.
   */
  readonly persistent: boolean;
}

/** What one delivery did: how many records, from the first, the sink confirmed, and the failure that stopped it. */
export interface AuditSinkDelivery {
  /** Count of records, from the first, the sink has confirmed (or already held): the cursor moves past them. */
  readonly delivered: number;
  /** Set when the sink stopped before the last record. */
  readonly failure?: AuditSinkFailure;
}

/** Where exported audit entries go. One process at a time calls `deliver` for a sink (the cursor's row lock). */
export interface AuditSink {
  /** The configured name: the cursor key and the metrics label. */
  readonly name: string;
  /** Entries read per delivery, 1..1000. */
  readonly batchSize: number;
  /**
   * Delivers `records` (consecutive indices, in order) and resolves once the sink has confirmed a
   * prefix of them; never rejects for a failure of the sink (it is a value). `signal` aborts an
   * attempt in progress (the exporter stopping).
   */
  deliver(records: readonly AuditExportRecord[], signal: AbortSignal): Promise<AuditSinkDelivery>;
}

/** What the sinks log: a gap in a JSON Lines file. */
export interface AuditSinkLogger {
  warn(obj: object, msg?: string): void;
}

/** Entries per append to a JSON Lines file. */
const JSONL_BATCH = 1000;
/** Bytes read at a time from the end of a JSON Lines file. */
const TAIL_CHUNK = 65_536;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The end of a JSON Lines file: its size, the length up to its last newline, and the entry on its last complete line. */
type Tail = { readonly ok: true; readonly size: number; readonly complete: number; readonly last: { readonly index: number; readonly leafHash: string } | undefined } | { readonly ok: false; readonly line: string };

/** Reads backwards from the end of `file` to its last complete line (text up to the last `\n`). */
async function readTail(file: FileHandle): Promise<Tail> {
  const { size } = await file.stat();
  let start = size;
  let buffer = Buffer.alloc(0); // the bytes [start, size)
  const extend = async (): Promise<void> => {
    const from = Math.max(0, start - TAIL_CHUNK);
    const chunk = Buffer.alloc(start - from);
    await file.read(chunk, 0, chunk.length, from);
    buffer = Buffer.concat([chunk, buffer]);
    start = from;
  };
  let last = -1; // absolute offset of the last newline
  while (last < 0) {
    const found = buffer.lastIndexOf(0x0a);
    if (found >= 0) last = start + found;
    else if (start === 0) return { ok: true, size, complete: 0, last: undefined };
    else await extend();
  }
  for (;;) {
    const end = last - start;
    const before = end === 0 ? -1 : buffer.lastIndexOf(0x0a, end - 1);
    if (before >= 0 || start === 0) {
      const line = buffer.subarray(before + 1, end).toString('utf8');
      const parsed = parseAuditExportLine(line);
      return parsed === undefined ? { ok: false, line: line.slice(0, 80) } : { ok: true, size, complete: last + 1, last: parsed };
    }
    await extend();
  }
}

/** Flushes a directory's entries (a newly created file's name) to disk. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/**
 * A sink appending each entry as one line of {@link formatAuditExportLine} to the file at `path`
 * (JSON Lines), exactly once across crashes: each delivery opens the file (created with mode 0640,
 * its directory with 0750), reads its last complete line to learn the last index written, cuts off a
 * partial last line a crash left, appends only the entries after that index, and fsyncs before it
 * confirms. So entries written by an attempt whose cursor update was lost are not written again,
 * and a file rotated away (renamed, a new one created) simply continues. A file whose last line is
 * not an export line, or is an entry of the batch with another leaf hash (a file of another log), is
 * refused (reason `file`) rather than appended to. When the file is not empty
 * and entries are missing between its last line and the batch, `logger` is warned: the file holds
 * a gap (another worker wrote them to its own file).
 *
 * @see https://jsonlines.org/
 */
export function createJsonlSink(options: { readonly name: string; readonly path: string; readonly logger?: AuditSinkLogger }): AuditSink {
  const { name, path, logger } = options;
  return {
    name,
    batchSize: JSONL_BATCH,
    async deliver(records) {
      try {
        await mkdir(dirname(path), { recursive: true, mode: 0o750 });
        const created = await stat(path).then(() => false, (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return true;
          throw error;
        });
        const file = await open(path, 'a+', 0o640);
        try {
          if (created) {
            await file.chmod(0o640);
            await syncDirectory(dirname(path));
          }
          const tail = await readTail(file);
          if (!tail.ok) {
            return { delivered: 0, failure: { reason: 'file', message: `the last line of ${path} is not an audit export line (${JSON.stringify(tail.line)}): move the file away or repair its last line`, persistent: true } };
          }
          const lastIndex = tail.last?.index;
          const written = records.find((record) => record.index === lastIndex);
          if (written !== undefined && encodeBase64(written.leafHash) !== tail.last?.leafHash) {
            return { delivered: 0, failure: { reason: 'file', message: `the last line of ${path} is entry ${lastIndex} of another log (its leaf hash differs from this log's): move the file away`, persistent: true } };
          }
          if (tail.complete < tail.size) await file.truncate(tail.complete);
          const fresh = lastIndex === undefined ? records : records.filter((record) => record.index > lastIndex);
          const first = fresh[0];
          if (first !== undefined && lastIndex !== undefined && first.index !== lastIndex + 1) {
            logger?.warn({ sink: name, path, lastIndex, next: first.index }, `audit export file ${path} ends at entry ${lastIndex} but the export continues at ${first.index}: entries in between went elsewhere (another worker's file, or a file rotated away)`);
          }
          if (fresh.length > 0) await file.appendFile(fresh.map(formatAuditExportLine).join(''), 'utf8');
          if (fresh.length > 0 || tail.complete < tail.size) await file.sync();
          return { delivered: records.length };
        } finally {
          await file.close();
        }
      } catch (error) {
        return { delivered: 0, failure: { reason: 'file', message: `cannot append to ${path}: ${errorMessage(error)}`, persistent: true } };
      }
    },
  };
}

/** Settings of {@link createCloudEventsSink}. */
export interface CloudEventsSinkOptions {
  readonly name: string;
  /** The receiver, http(s). */
  readonly url: string;
  /** `batch`: one POST per batch (`application/cloudevents-batch+json`); `structured`: one POST per event (`application/cloudevents+json`). */
  readonly mode: 'batch' | 'structured';
  /** Entries per batch, 1..1000. */
  readonly batchSize: number;
  /** Time allowed for one POST, response included, ms. */
  readonly timeoutMs: number;
  /** Extra request headers (no credentials). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  readonly bearerToken?: string;
  /** The log's origin (`audit.origin`): the events' `source` and the prefix of their `id`. */
  readonly origin: string;
}

/**
 * A sink POSTing each entry as a CloudEvent ({@link auditCloudEvent}, built and validated with the
 * `cloudevents` SDK) to `url`: in `batch` mode one request per batch whose body is the JSON array of
 * the events (`application/cloudevents-batch+json`), in `structured` mode one request per event
 * (`application/cloudevents+json`), in index order, stopping at the first failure. Any 2xx answer
 * confirms; redirects are not followed. A failure is `timeout` (no answer within `timeoutMs`),
 * `network` (refused, reset, closed) or `http` (any other status; `persistent` for 3xx and for 4xx
 * other than 408 and 429; a Retry-After header is passed on). Delivery is at least once: a receiver
 * drops redelivered events by `id` (`<origin>:<index>`).
 *
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md (structured and batched content modes)
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
export function createCloudEventsSink(options: CloudEventsSinkOptions): AuditSink {
  const { name, url, mode, timeoutMs, origin, bearerToken } = options;
  const headers: Record<string, string> = { ...options.headers, ...(bearerToken === undefined ? {} : { authorization: `Bearer ${bearerToken}` }) };
  const hideToken = (text: string): string => (bearerToken === undefined || bearerToken === '' ? text : text.split(bearerToken).join('***'));

  const post = async (body: string, contentType: string, signal: AbortSignal): Promise<AuditSinkFailure | undefined> =>
    (await postOnce({ url, body, headers: { ...headers, 'content-type': contentType }, timeoutMs, signal, redact: hideToken })).failure;

  return {
    name,
    batchSize: options.batchSize,
    async deliver(records, signal) {
      const events = records.map((record) => new CloudEvent<AuditExportData>({ ...auditCloudEvent(record, origin) }));
      if (mode === 'batch') {
        const failure = await post(JSON.stringify(events), 'application/cloudevents-batch+json; charset=utf-8', signal);
        return failure === undefined ? { delivered: records.length } : { delivered: 0, failure };
      }
      for (const [i, event] of events.entries()) {
        const message = HTTP.structured(event);
        const failure = await post(String(message.body), 'application/cloudevents+json; charset=utf-8', signal);
        if (failure !== undefined) return { delivered: i, failure };
      }
      return { delivered: records.length };
    },
  };
}
