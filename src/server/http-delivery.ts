// At-least-once delivery over HTTP, shared by the audit export's CloudEvents sink (`audit-sinks.ts`)
// and the notification webhooks (`notifications.ts`): one POST with a time limit whose failure is a
// value (timeout, network, or an HTTP status with Retry-After), and the backoff between attempts.

/** Longest Retry-After honoured, ms (1 hour). */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** Characters of an error response body kept in a failure message. */
const BODY_PREFIX_CHARS = 200;

/** A failed POST. Carries no header value and no credential. */
export interface HttpDeliveryFailure {
  /** `timeout`: no answer within the time limit; `network`: refused, reset, closed; `http`: a status other than 2xx. */
  readonly reason: 'timeout' | 'network' | 'http';
  /** What failed, in one line: for an HTTP answer its status and the first bytes of its body. */
  readonly message: string;
  /** The HTTP status, when the receiver answered. */
  readonly status?: number;
  /** The receiver's Retry-After (seconds or an HTTP date) as a delay, ms (at most 1 hour). */
  readonly retryAfterMs?: number;
  /** True for a 3xx and a 4xx other than 408 and 429: trying again unchanged is likely to fail again. */
  readonly persistent: boolean;
}

/** One POST to make with {@link postOnce}. */
export interface HttpPost {
  /** http(s) URL. */
  readonly url: string;
  readonly body: string;
  /** Request headers, `content-type` included. */
  readonly headers: Readonly<Record<string, string>>;
  /** Time allowed for the POST, answer included, ms. */
  readonly timeoutMs: number;
  /** Aborts the POST (the caller stopping); reported as a `network` failure. */
  readonly signal: AbortSignal;
  /** Removes secrets from text that goes into a failure message (the answer's body). @default identity */
  readonly redact?: (text: string) => string;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The delay a Retry-After value asks for (delay-seconds or an HTTP-date, RFC 9110 §10.2.3), ms, at most 1 hour; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

/**
 * The delay before retry number `failures` (1, 2, ...), ms: `base = min(maxMs, initialMs × 2^(failures − 1))`,
 * then a uniformly random point of [base / 2, base] ("equal jitter"), so workers retrying the same
 * receiver spread out.
 */
export function retryDelayMs(failures: number, retry: { readonly initialMs: number; readonly maxMs: number }, random: () => number = Math.random): number {
  const base = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

/** The first characters of a response body, on one line; the body is not read further. */
async function bodyPrefix(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < BODY_PREFIX_CHARS * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // what was read so far is enough
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, BODY_PREFIX_CHARS);
}

/** A fetch failure as a delivery failure: `timeout` when `timeout` fired, else `network` with the cause's reason. */
function fetchFailure(error: unknown, timeout: AbortSignal, timeoutMs: number): HttpDeliveryFailure {
  if (timeout.aborted) return { reason: 'timeout', message: `no answer within ${timeoutMs} ms`, persistent: false };
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? `${cause.message}${typeof code === 'string' && !cause.message.includes(code) ? ` (${code})` : ''}` : '';
  return { reason: 'network', message: `${errorMessage(error)}${detail === '' ? '' : `: ${detail}`}`, persistent: false };
}

/**
 * POSTs `post.body` to `post.url` once, without following redirects, and resolves with the answer's
 * status and, unless it is 2xx, the failure: `timeout` (no answer within `timeoutMs`), `network`, or
 * `http` (`persistent` for 3xx and for 4xx other than 408 and 429; Retry-After passed on). Never
 * rejects. A 2xx answer's body is read and dropped.
 */
export async function postOnce(post: HttpPost): Promise<{ readonly status: number | null; readonly failure: HttpDeliveryFailure | undefined }> {
  const timeout = AbortSignal.timeout(post.timeoutMs);
  let response: Response;
  try {
    response = await fetch(post.url, { method: 'POST', headers: { ...post.headers }, body: post.body, redirect: 'manual', signal: AbortSignal.any([post.signal, timeout]) });
  } catch (error) {
    return { status: null, failure: fetchFailure(error, timeout, post.timeoutMs) };
  }
  if (response.status >= 200 && response.status < 300) {
    try {
      await response.arrayBuffer();
    } catch {
      // the receiver confirmed with its status; a body cut short changes nothing
    }
    return { status: response.status, failure: undefined };
  }
  const text = (post.redact ?? ((value: string) => value))(await bodyPrefix(response));
  const retryAfter = retryAfterMs(response.headers.get('retry-after'), Date.now());
  const transient = response.status === 408 || response.status === 429 || response.status >= 500;
  return {
    status: response.status,
    failure: {
      reason: 'http',
      status: response.status,
      message: `HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}${text === '' ? '' : `: ${text}`}`,
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
      persistent: !transient,
    },
  };
}
