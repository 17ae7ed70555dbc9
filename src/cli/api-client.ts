import type { Mission, MissionDetail } from '../core/missions/mission.js';
import type { MissionFilter } from '../core/ports.js';
import type { ApiClientOptions, MissionPage, MissionsApi } from './deps.js';

/**
 * The client-side failure codes; an error response from the server keeps the server's own code
 * (e.g. `MISSION_NOT_FOUND`, see `docs/errors.md`).
 */
export type ApiClientErrorCode = 'API_UNREACHABLE' | 'API_TIMEOUT' | 'API_RESPONSE_INVALID';

/**
 * A call to the HTTP API failed. `code` is the server's error code when it answered with
 * `{ error: { code, message, details } }`, else one of {@link ApiClientErrorCode}; `status` is the
 * HTTP status when there was a response.
 */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = options.status;
    this.details = options.details ?? {};
  }
}

/**
 * A {@link MissionsApi} over HTTP with the global `fetch`. Each request, body included, must finish
 * within `timeoutMs` (`AbortSignal.timeout`).
 * Rejects with {@link ApiError}: `API_UNREACHABLE` ("cannot reach Interlock at URL: is
 * `interlock serve` running?") when no connection can be made, `API_TIMEOUT`, `API_RESPONSE_INVALID`
 * for a body that is not the expected JSON, or the server's own code for an error response.
 */
export function createApiClient(options: ApiClientOptions): MissionsApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  async function request(method: 'GET' | 'POST', path: string, query?: URLSearchParams): Promise<unknown> {
    const search = query === undefined || query.size === 0 ? '' : `?${query.toString()}`;
    const url = `${baseUrl}${path}${search}`;
    const init: RequestInit = { method, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs) };
    if (method === 'POST') {
      init.headers = { accept: 'application/json', 'content-type': 'application/json' };
      init.body = '{}';
    }
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, init);
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (isTimeout(error)) {
        throw new ApiError('API_TIMEOUT', `Interlock at ${baseUrl} did not answer ${method} ${path} within ${options.timeoutMs} ms; try again or raise --timeout`, { cause: error });
      }
      throw new ApiError('API_UNREACHABLE', `cannot reach Interlock at ${baseUrl}: is \`interlock serve\` running?`, { cause: error });
    }
    const body = parseJson(text);
    if (status < 200 || status > 299) {
      const failure = errorBody(body);
      if (failure !== undefined) throw new ApiError(failure.code, failure.message, { status, details: failure.details });
      throw new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered ${method} ${path} with HTTP ${status} and no error body`, { status });
    }
    if (body === undefined) {
      throw new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered ${method} ${path} with a body that is not JSON`, { status });
    }
    return body;
  }

  const invalid = (what: string): ApiError => new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered with ${what}; are the CLI and the server the same version?`);

  return {
    async list(filter: MissionFilter): Promise<MissionPage> {
      const query = new URLSearchParams();
      if (filter.project !== undefined) query.set('project', filter.project);
      if (filter.stage !== undefined) query.set('stage', filter.stage);
      if (filter.outcome !== undefined) query.set('outcome', filter.outcome);
      if (filter.running !== undefined) query.set('running', String(filter.running));
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      if (filter.before !== undefined) query.set('before', filter.before);
      const body = await request('GET', '/v1/missions', query);
      if (!isRecord(body) || !Array.isArray(body.missions) || !body.missions.every(isMissionLike)) throw invalid('something other than { missions, next }');
      return { missions: body.missions as unknown as Mission[], next: typeof body.next === 'string' ? body.next : null };
    },
    async get(id: string): Promise<MissionDetail> {
      return detail(await request('GET', `/v1/missions/${encodeURIComponent(id)}`), invalid);
    },
    async cancel(id: string): Promise<MissionDetail> {
      return detail(await request('POST', `/v1/missions/${encodeURIComponent(id)}/cancel`), invalid);
    },
  };
}

/** The mission of a `{ mission }` response body. */
function detail(body: unknown, invalid: (what: string) => ApiError): MissionDetail {
  const mission = isRecord(body) ? body.mission : undefined;
  if (!isMissionLike(mission) || !Array.isArray(mission.steps) || !Array.isArray(mission.history)) throw invalid('something other than { mission }');
  return mission as unknown as MissionDetail;
}

function errorBody(body: unknown): { code: string; message: string; details: Record<string, unknown> } | undefined {
  if (!isRecord(body) || !isRecord(body.error)) return undefined;
  const { code, message, details } = body.error;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return { code, message, details: isRecord(details) ? details : {} };
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMissionLike(value: unknown): value is Record<string, unknown> & { id: string } {
  return isRecord(value) && typeof value.id === 'string';
}
