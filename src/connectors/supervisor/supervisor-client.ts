import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { AuthorizationHeader } from '../shared/http-config.js';
import { decodeMethodResponse, encodeMethodCall, XmlRpcParseError, type XmlRpcValue } from './xml-rpc.js';

/** Largest XML-RPC answer read, bytes; getAllProcessInfo of a thousand processes is far smaller. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * supervisord's fault codes (`supervisor/xmlrpc.py`, class Faults) by number, and whether trying the
 * same call again can help.
 * @see http://supervisord.org/api.html
 */
const SUPERVISOR_FAULTS: Readonly<Record<number, { readonly name: string; readonly retryable: boolean }>> = {
  1: { name: 'UNKNOWN_METHOD', retryable: false },
  2: { name: 'INCORRECT_PARAMETERS', retryable: false },
  3: { name: 'BAD_ARGUMENTS', retryable: false },
  4: { name: 'SIGNATURE_UNSUPPORTED', retryable: false },
  6: { name: 'SHUTDOWN_STATE', retryable: true },
  10: { name: 'BAD_NAME', retryable: false },
  11: { name: 'BAD_SIGNAL', retryable: false },
  20: { name: 'NO_FILE', retryable: false },
  21: { name: 'NOT_EXECUTABLE', retryable: false },
  30: { name: 'FAILED', retryable: false },
  40: { name: 'ABNORMAL_TERMINATION', retryable: false },
  50: { name: 'SPAWN_ERROR', retryable: false },
  60: { name: 'ALREADY_STARTED', retryable: false },
  70: { name: 'NOT_RUNNING', retryable: false },
  80: { name: 'SUCCESS', retryable: false },
  90: { name: 'ALREADY_ADDED', retryable: false },
  91: { name: 'STILL_RUNNING', retryable: false },
  92: { name: 'CANT_REREAD', retryable: false },
};

/** What supervisord's `getProcessInfo` says about one process (times in seconds since the epoch). */
export const ProcessInfo = z.object({
  name: z.string(),
  group: z.string(),
  description: z.string(),
  start: z.int().min(0),
  stop: z.int().min(0),
  now: z.int().min(0),
  state: z.int(),
  statename: z.string(),
  spawnerr: z.string(),
  exitstatus: z.int(),
  pid: z.int().min(0),
});

/** One process as supervisord describes it. */
export type ProcessInfo = z.output<typeof ProcessInfo>;

/** The few supervisord XML-RPC methods the connector uses. Faults are thrown as {@link ConnectorError} with the fault's name as `status`. */
export interface SupervisorClient {
  /** `supervisor.getProcessInfo(namespec)`. */
  getProcessInfo(namespec: string, signal: AbortSignal): Promise<ProcessInfo>;
  /** `supervisor.getAllProcessInfo()`. */
  getAllProcessInfo(signal: AbortSignal): Promise<ProcessInfo[]>;
  /** `supervisor.startProcess(namespec, wait=true)`: returns once the process is RUNNING (past its startsecs). */
  startProcess(namespec: string, signal: AbortSignal): Promise<void>;
  /** `supervisor.stopProcess(namespec, wait=true)`: returns once the process has stopped. */
  stopProcess(namespec: string, signal: AbortSignal): Promise<void>;
}

/** Where supervisord listens and who the client is. */
export interface SupervisorClientOptions {
  /** The XML-RPC endpoint, e.g. `http://127.0.0.1:9001/RPC2`. */
  readonly url: string;
  /** Longest one call may take, answer read included, ms. */
  readonly timeoutMs: number;
  readonly headers: AuthorizationHeader;
}

/**
 * A strict XML-RPC client for supervisord's `[inet_http_server]` on Node's fetch.
 *
 * @throws ConnectorError (system `supervisor`): `TOOL_TIMEOUT` when `timeoutMs` passes (outcome
 *   unknown for start and stop); `TOOL_FAILED` when the connection fails (retryable; outcome unknown for
 *   start and stop unless it was refused), on HTTP 401 (wrong credentials, not retryable), another HTTP
 *   error, an answer that is not a valid method response (outcome unknown for writes), or a fault
 *   (`status` = the fault's name, e.g. `BAD_NAME`, retryable as {@link SUPERVISOR_FAULTS} says).
 */
export function createSupervisorClient(options: SupervisorClientOptions): SupervisorClient {
  const call = async (method: string, params: readonly XmlRpcValue[], signal: AbortSignal, write: boolean): Promise<XmlRpcValue> => {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const body = encodeMethodCall(method, params);
    const what = `${method}(${params.filter((p) => typeof p === 'string').join(', ')})`;
    let status: number;
    let text: string;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', accept: 'text/xml', ...options.headers },
        body,
        signal: AbortSignal.any([signal, timeout]),
        redirect: 'error',
      });
      status = response.status;
      text = await readLimited(response);
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      if (timeout.aborted && !signal.aborted) {
        throw new ConnectorError('TOOL_TIMEOUT', `supervisord did not answer ${what} within ${options.timeoutMs} ms${write ? '; the process may have changed state, re-observe it before trying again' : ''}.`, {
          system: 'supervisor', retryable: true, outcomeUnknown: write, cause: error,
        });
      }
      if (signal.aborted) {
        throw new ConnectorError('TOOL_FAILED', `The supervisord call ${what} was aborted (the call timed out or its mission was cancelled).`, {
          system: 'supervisor', retryable: false, outcomeUnknown: write, cause: error,
        });
      }
      const code = networkCode(error);
      // A refused connection never carried the request; anything else may have.
      const sent = write && code !== 'ECONNREFUSED' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN';
      throw new ConnectorError('TOOL_FAILED', `Could not reach supervisord at ${redact(options.url)}: ${code ?? (error instanceof Error ? error.message : String(error))}; check that it runs with [inet_http_server] and that the URL is right.`, {
        system: 'supervisor', status: code, retryable: true, outcomeUnknown: sent, cause: error,
      });
    }
    if (status === 401) {
      throw new ConnectorError('TOOL_FAILED', 'supervisord refused the credentials (HTTP 401); check connectors.supervisor.basicAuth against its [inet_http_server] username and password.', {
        system: 'supervisor', status, retryable: false,
      });
    }
    if (status !== 200) {
      throw new ConnectorError('TOOL_FAILED', `supervisord answered ${what} with HTTP ${status}: ${text.slice(0, 200)}; is the URL its /RPC2 endpoint?`, {
        system: 'supervisor', status, retryable: status >= 500, outcomeUnknown: write && status >= 500,
      });
    }
    let response;
    try {
      response = decodeMethodResponse(text);
    } catch (error) {
      if (!(error instanceof XmlRpcParseError)) throw error;
      throw new ConnectorError('TOOL_FAILED', `supervisord answered ${what} with an invalid XML-RPC response (${error.message}); is the URL its /RPC2 endpoint?`, {
        system: 'supervisor', retryable: false, outcomeUnknown: write, cause: error,
      });
    }
    if (response.kind === 'fault') {
      const fault = SUPERVISOR_FAULTS[response.code] ?? { name: `FAULT_${response.code}`, retryable: false };
      throw new ConnectorError('TOOL_FAILED', `supervisord refused ${what}: ${response.message}.`, {
        system: 'supervisor', status: fault.name, retryable: fault.retryable, details: { faultCode: response.code, faultString: response.message },
      });
    }
    return response.value;
  };

  const info = (value: XmlRpcValue, method: string): ProcessInfo => {
    const parsed = ProcessInfo.safeParse(value);
    if (!parsed.success) {
      throw new ConnectorError('TOOL_FAILED', `supervisord answered ${method} with a process description this connector does not understand (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}).`, {
        system: 'supervisor', retryable: false,
      });
    }
    return parsed.data;
  };

  return {
    async getProcessInfo(namespec, signal) {
      return info(await call('supervisor.getProcessInfo', [namespec], signal, false), 'supervisor.getProcessInfo');
    },
    async getAllProcessInfo(signal) {
      const value = await call('supervisor.getAllProcessInfo', [], signal, false);
      if (!Array.isArray(value)) throw new ConnectorError('TOOL_FAILED', 'supervisord answered supervisor.getAllProcessInfo with something other than an array.', { system: 'supervisor', retryable: false });
      return (value as XmlRpcValue[]).map((item) => info(item, 'supervisor.getAllProcessInfo'));
    },
    async startProcess(namespec, signal) {
      await call('supervisor.startProcess', [namespec, true], signal, true);
    },
    async stopProcess(namespec, signal) {
      await call('supervisor.stopProcess', [namespec, true], signal, true);
    },
  };
}

/** The body as text, refusing one over {@link MAX_RESPONSE_BYTES}. */
async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await response.body.cancel().catch(() => undefined);
      throw new ConnectorError('TOOL_FAILED', `supervisord answered with more than ${MAX_RESPONSE_BYTES} bytes; is the URL its /RPC2 endpoint?`, { system: 'supervisor', retryable: false });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The system error code (`ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET` ...) behind a fetch failure. */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The URL without user or password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
