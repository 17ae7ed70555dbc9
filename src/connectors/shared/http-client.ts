import { ConnectorError } from '../../core/errors.js';
import type { AuthorizationHeader } from './http-config.js';

/** What an HTTP API connector's client needs: where, how long, how much, and who it is. */
export interface HttpApiClientOptions {
  /** The system's name in errors, e.g. `prometheus`. */
  readonly system: string;
  /** Base URL; request paths are appended to its path. */
  readonly url: string;
  /** Longest one request may take, answer read included, ms. */
  readonly timeoutMs: number;
  /** Largest answer body read, bytes. */
  readonly maxResponseBytes: number;
  readonly headers: AuthorizationHeader;
}

/** An answer with its HTTP status and its body parsed as JSON (`undefined` when it is not JSON). */
export interface HttpApiResponse {
  readonly status: number;
  /** The parsed body, or `undefined` when the body is not JSON. */
  readonly json: unknown;
  /** The body as text, cut to 500 characters, for error messages. */
  readonly text: string;
}

/** Query or form parameters; a list value repeats the parameter (`match[]=a&match[]=b`). */
export type HttpParams = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A read-only JSON-over-HTTP client for one API, on Node's global fetch. */
export interface HttpApiClient {
  /** `GET <url><path>?<params>`. */
  get(path: string, params: HttpParams, signal: AbortSignal): Promise<HttpApiResponse>;
  /** `POST <url><path>` with `params` as `application/x-www-form-urlencoded` (long queries fit). */
  postForm(path: string, params: HttpParams, signal: AbortSignal): Promise<HttpApiResponse>;
}

/**
 * Creates a client that sends each request with the configured credentials, gives up after
 * `timeoutMs` or when `signal` aborts, and reads at most `maxResponseBytes`.
 *
 * @throws ConnectorError `TOOL_TIMEOUT` (retryable) when `timeoutMs` passes; `TOOL_FAILED` (not
 *   retryable) when `signal` aborts, the answer is a redirect or larger than `maxResponseBytes`; `TOOL_FAILED`
 *   (retryable) when the connection fails (refused, reset, DNS), with the error code as `status`.
 *   HTTP error statuses are not thrown: the caller reads the system's error body.
 */
export function createHttpApiClient(options: HttpApiClientOptions): HttpApiClient {
  const base = options.url.replace(/\/+$/, '');

  const send = async (path: string, init: { method: 'GET' | 'POST'; query?: URLSearchParams; form?: URLSearchParams }, signal: AbortSignal): Promise<HttpApiResponse> => {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    const url = `${base}${path}${init.query === undefined || init.query.size === 0 ? '' : `?${init.query.toString()}`}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    try {
      const response = await fetch(url, { method: init.method, headers, signal: both, redirect: 'error', ...(init.form === undefined ? {} : { body: init.form.toString() }) });
      const body = await readLimited(response, options.maxResponseBytes);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { status: response.status, json, text: body.slice(0, 500) };
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      if (timeout.aborted && !signal.aborted) {
        throw new ConnectorError('TOOL_TIMEOUT', `${options.system} did not answer ${init.method} ${path} within ${options.timeoutMs} ms; try again, or narrow the request.`, {
          system: options.system, retryable: true, cause: error,
        });
      }
      if (signal.aborted) {
        throw new ConnectorError('TOOL_FAILED', `The ${options.system} request ${init.method} ${path} was aborted (the call timed out or its mission was cancelled).`, {
          system: options.system, retryable: false, cause: error,
        });
      }
      if (causeMessage(error)?.includes('redirect') === true) {
        throw new ConnectorError('TOOL_FAILED', `${options.system} answered ${init.method} ${path} with a redirect, which is not followed (credentials must not go to another address); set the URL to the final address.`, {
          system: options.system, retryable: false, cause: error,
        });
      }
      const code = networkCode(error);
      throw new ConnectorError('TOOL_FAILED', `Could not reach ${options.system} at ${redactUrl(base)}: ${code ?? (error instanceof Error ? error.message : String(error))}; check that it is up and the URL is right.`, {
        system: options.system, status: code, retryable: true, cause: error,
      });
    }
  };

  return {
    get: (path, params, signal) => send(path, { method: 'GET', query: toSearchParams(params) }, signal),
    postForm: (path, params, signal) => send(path, { method: 'POST', form: toSearchParams(params) }, signal),
  };

  /** The body as text, refusing one over `limit` bytes without reading the rest. */
  async function readLimited(response: Response, limit: number): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limit) {
      await response.body?.cancel();
      throw tooLarge(limit);
    }
    if (response.body === null) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limit) {
        await response.body.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function tooLarge(limit: number): ConnectorError {
    return new ConnectorError('TOOL_FAILED', `${options.system} answered with more than ${limit} bytes (connectors.${options.system}.maxResponseBytes); narrow the request (fewer series, a shorter range or a larger step).`, {
      system: options.system, retryable: false, details: { maxResponseBytes: limit },
    });
  }
}

function toSearchParams(params: HttpParams): URLSearchParams {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (typeof value === 'string') search.append(name, value);
    else for (const item of value) search.append(name, item);
  }
  return search;
}

/** The system error code (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET` ...) behind a fetch failure. */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The message of the error behind a fetch failure (`TypeError: fetch failed`). */
function causeMessage(error: unknown): string | undefined {
  return error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
}

/** The URL without user, password, query or fragment, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
