import { ERROR_CODES, InterlockError, type ErrorCode, type InterlockErrorOptions } from '../core/errors.js';
import type { Mission, MissionDetail } from '../core/missions/mission.js';
import type { MissionFilter } from '../core/ports.js';
import type { AgentView, ApiClientOptions, ApprovalView, DiagnosisView, IncidentView, IntakeView, InterlockApi, KillSwitchView, McpServerView, McpToolView, MissionPage, SignalView, TicketSummaryView, TicketView, TrackRecordView } from './deps.js';

/** Options of an {@link ApiError}. */
interface ApiErrorOptions extends InterlockErrorOptions {
  /** The HTTP status of the response, when there was one. */
  readonly httpStatus?: number;
}

/**
 * A call to the HTTP API failed. When the server answered `{ error: { code, message, details } }`,
 * `code`, `message` and `details` are the server's (e.g. `MISSION_NOT_FOUND`, see `docs/errors.md`);
 * otherwise `code` is `API_UNREACHABLE`, `API_TIMEOUT` or `API_RESPONSE_INVALID` and `details` holds
 * `url` (the base URL), `method` and `path`. `status` is the registered status of `code`;
 * `httpStatus` is what the server (or a proxy) actually answered, when it answered.
 */
export class ApiError extends InterlockError {
  readonly httpStatus: number | undefined;
  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(code, message, options);
    this.httpStatus = options.httpStatus;
  }
}

/**
 * An {@link InterlockApi} (missions and approvals) over HTTP with the global `fetch`, sending
 * `options.token` as `Authorization: Bearer <token>`. Each request, body included, must finish
 * within `timeoutMs` (`AbortSignal.timeout`).
 * Rejects with {@link ApiError}: `API_UNREACHABLE` ("cannot reach Interlock at URL: is
 * `interlock serve` running?") when no connection can be made, `API_TIMEOUT`, `API_RESPONSE_INVALID`
 * for a body that is not the expected JSON (or an error code this CLI does not know), or the
 * server's own code for an error response (`AUTH_REQUIRED` with a message naming `--token` and
 * `INTERLOCK_TOKEN` when no token was given).
 */
export function createApiClient(options: ApiClientOptions): InterlockApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  const auth: Record<string, string> = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };

  /** The response body of `method path`, parsed as JSON, or as text when `accept` is not JSON. */
  async function request(method: 'GET' | 'POST', path: string, query?: URLSearchParams, payload: unknown = {}, accept = 'application/json', raw?: { readonly body: Uint8Array; readonly contentType: string }): Promise<unknown> {
    const search = query === undefined || query.size === 0 ? '' : `?${query.toString()}`;
    const url = `${baseUrl}${path}${search}`;
    const init: RequestInit = { method, headers: { accept, ...auth }, signal: AbortSignal.timeout(options.timeoutMs) };
    if (method === 'POST') {
      init.headers = { accept: 'application/json', 'content-type': raw?.contentType ?? 'application/json', ...auth };
      init.body = raw === undefined ? JSON.stringify(payload) : raw.body;
    }
    const where = { url: baseUrl, method, path };
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, init);
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (isTimeout(error)) {
        throw new ApiError('API_TIMEOUT', `Interlock at ${baseUrl} did not answer ${method} ${path} within ${options.timeoutMs} ms; try again or raise --timeout`, {
          cause: error,
          details: { ...where, timeoutMs: options.timeoutMs },
        });
      }
      throw new ApiError('API_UNREACHABLE', `cannot reach Interlock at ${baseUrl}: is \`interlock serve\` running?`, { cause: error, details: where });
    }
    const body = parseJson(text);
    if (status >= 200 && status <= 299 && accept !== 'application/json') return text;
    if (status < 200 || status > 299) {
      const failure = errorBody(body);
      if (failure?.code === 'AUTH_REQUIRED' && options.token === undefined) {
        throw new ApiError('AUTH_REQUIRED', `Interlock at ${baseUrl} needs an API token: set INTERLOCK_TOKEN or pass --token (an admin creates one with \`interlock tokens create --principal <name>\`)`, { httpStatus: status, details: failure.details });
      }
      if (failure !== undefined && isErrorCode(failure.code)) throw new ApiError(failure.code, failure.message, { httpStatus: status, details: failure.details });
      // A code this CLI does not know (a newer server): keep the server's message; details name the code.
      if (failure !== undefined) throw new ApiError('API_RESPONSE_INVALID', failure.message, { httpStatus: status, details: { ...where, serverCode: failure.code, serverDetails: failure.details } });
      throw new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered ${method} ${path} with HTTP ${status} and no error body`, { httpStatus: status, details: where });
    }
    if (body === undefined) {
      throw new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered ${method} ${path} with a body that is not JSON`, { httpStatus: status, details: where });
    }
    return body;
  }

  /** `API_RESPONSE_INVALID` for a success response whose JSON is not what `method path` answers. */
  const invalid = (method: 'GET' | 'POST', path: string, what: string): ApiError =>
    new ApiError('API_RESPONSE_INVALID', `Interlock at ${baseUrl} answered with ${what}; are the CLI and the server the same version?`, { details: { url: baseUrl, method, path } });

  /** The mission of a `{ mission }` response body. */
  async function detail(method: 'GET' | 'POST', path: string): Promise<MissionDetail> {
    const body = await request(method, path);
    const mission = isRecord(body) ? body.mission : undefined;
    if (!isMissionLike(mission) || !Array.isArray(mission.steps) || !Array.isArray(mission.history)) throw invalid(method, path, 'something other than { mission }');
    return mission as unknown as MissionDetail;
  }

  /** The approval of a `{ approval }` response body. */
  async function approval(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<ApprovalView> {
    const body = await request(method, path, undefined, payload);
    const found = isRecord(body) ? body.approval : undefined;
    if (!isRecord(found) || typeof found.id !== 'string' || typeof found.actionHash !== 'string' || !Array.isArray(found.actions)) throw invalid(method, path, 'something other than { approval }');
    return found as unknown as ApprovalView;
  }

  return {
    async listApprovals(filter) {
      const query = new URLSearchParams();
      if (filter.status !== undefined) query.set('status', filter.status);
      if (filter.project !== undefined) query.set('project', filter.project);
      if (filter.mission !== undefined) query.set('mission', filter.mission);
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      const body = await request('GET', '/v1/approvals', query);
      if (!isRecord(body) || !Array.isArray(body.approvals) || !body.approvals.every((item) => isRecord(item) && typeof item.id === 'string')) {
        throw invalid('GET', '/v1/approvals', 'something other than { approvals }');
      }
      return body.approvals as ApprovalView[];
    },
    async listKillSwitches() {
      const body = await request('GET', '/v1/kill-switches');
      if (!isRecord(body) || !Array.isArray(body.killSwitches)) throw invalid('GET', '/v1/kill-switches', 'something other than { killSwitches }');
      return body.killSwitches as KillSwitchView[];
    },
    async engageKillSwitch(scope, reason) {
      const body = await request('POST', '/v1/kill-switches', undefined, { scope, reason });
      if (!isRecord(body) || !isRecord(body.killSwitch)) throw invalid('POST', '/v1/kill-switches', 'something other than { killSwitch }');
      return body.killSwitch as unknown as KillSwitchView;
    },
    async releaseKillSwitch(scope) {
      const body = await request('POST', '/v1/kill-switches/release', undefined, { scope });
      if (!isRecord(body) || !('killSwitch' in body)) throw invalid('POST', '/v1/kill-switches/release', 'something other than { killSwitch }');
      return (body.killSwitch ?? null) as KillSwitchView | null;
    },
    async listMcpServers() {
      const body = await request('GET', '/v1/mcp/servers');
      if (!isRecord(body) || !Array.isArray(body.servers)) throw invalid('GET', '/v1/mcp/servers', 'something other than { servers }');
      return body.servers as McpServerView[];
    },
    async acceptMcpTool(server, tool) {
      const path = `/v1/mcp/servers/${encodeURIComponent(server)}/tools/${encodeURIComponent(tool)}/accept`;
      const body = await request('POST', path);
      if (!isRecord(body) || !isRecord(body.tool)) throw invalid('POST', path, 'something other than { tool }');
      return body.tool as unknown as McpToolView;
    },
    async rejectMcpTool(server, tool, reason) {
      const path = `/v1/mcp/servers/${encodeURIComponent(server)}/tools/${encodeURIComponent(tool)}/reject`;
      const body = await request('POST', path, undefined, reason === undefined ? {} : { reason });
      if (!isRecord(body) || !isRecord(body.tool)) throw invalid('POST', path, 'something other than { tool }');
      return body.tool as unknown as McpToolView;
    },
    async reloadPolicy() {
      const body = await request('POST', '/v1/policy/reload');
      if (!isRecord(body) || typeof body.digest !== 'string') throw invalid('POST', '/v1/policy/reload', 'something other than { ok, changed, digest, files }');
      return { changed: body.changed === true, digest: body.digest, files: Array.isArray(body.files) ? (body.files as string[]) : [] };
    },
    getApproval: (id) => approval('GET', `/v1/approvals/${encodeURIComponent(id)}`),
    vote: (id, decision, payload) => approval('POST', `/v1/approvals/${encodeURIComponent(id)}/${decision}`, payload),
    async list(filter: MissionFilter): Promise<MissionPage> {
      const query = new URLSearchParams();
      if (filter.project !== undefined) query.set('project', filter.project);
      if (filter.stage !== undefined) query.set('stage', filter.stage);
      if (filter.outcome !== undefined) query.set('outcome', filter.outcome);
      if (filter.running !== undefined) query.set('running', String(filter.running));
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      if (filter.before !== undefined) query.set('before', filter.before);
      const body = await request('GET', '/v1/missions', query);
      if (!isRecord(body) || !Array.isArray(body.missions) || !body.missions.every(isMissionLike)) throw invalid('GET', '/v1/missions', 'something other than { missions, next }');
      return { missions: body.missions as unknown as Mission[], next: typeof body.next === 'string' ? body.next : null };
    },
    async sendSignals(source, body, contentType) {
      const path = `/v1/signals/${encodeURIComponent(source)}`;
      const answer = await request('POST', path, undefined, undefined, 'application/json', { body, contentType });
      if (!isRecord(answer) || typeof answer.intakeId !== 'string' || !Array.isArray(answer.incidents)) throw invalid('POST', path, 'something other than { intakeId, accepted, incidents }');
      return answer as unknown as IntakeView;
    },
    async listIncidents(filter) {
      const query = new URLSearchParams();
      if (filter.status !== undefined) query.set('status', filter.status);
      if (filter.project !== undefined) query.set('project', filter.project);
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      if (filter.before !== undefined) query.set('before', filter.before);
      const body = await request('GET', '/v1/incidents', query);
      if (!isRecord(body) || !Array.isArray(body.incidents)) throw invalid('GET', '/v1/incidents', 'something other than { incidents, next }');
      return { incidents: body.incidents as IncidentView[], next: typeof body.next === 'string' ? body.next : null };
    },
    async getIncident(id) {
      const path = `/v1/incidents/${encodeURIComponent(id)}`;
      const body = await request('GET', path);
      if (!isRecord(body) || !isRecord(body.incident) || !Array.isArray(body.signals)) throw invalid('GET', path, 'something other than { incident, signals }');
      return { incident: body.incident as unknown as IncidentView, signals: body.signals as SignalView[] };
    },
    async getDiagnosis(id) {
      const path = `/v1/incidents/${encodeURIComponent(id)}/diagnosis`;
      const body = await request('GET', path);
      if (!isRecord(body) || typeof body.status !== 'string') throw invalid('GET', path, 'something other than { incidentId, missionId, status, diagnosis }');
      return body as unknown as DiagnosisView;
    },
    async listTickets(filter) {
      const query = new URLSearchParams();
      if (filter.status !== undefined) query.set('status', filter.status);
      if (filter.project !== undefined) query.set('project', filter.project);
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      if (filter.before !== undefined) query.set('before', filter.before);
      const body = await request('GET', '/v1/tickets', query);
      if (!isRecord(body) || !Array.isArray(body.tickets)) throw invalid('GET', '/v1/tickets', 'something other than { tickets, next }');
      return { tickets: body.tickets as TicketSummaryView[], next: typeof body.next === 'string' ? body.next : null };
    },
    async getTicket(id) {
      const path = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? `/v1/incidents/${encodeURIComponent(id)}/ticket` : `/v1/tickets/${encodeURIComponent(id)}`;
      const body = await request('GET', path);
      if (!isRecord(body) || !isRecord(body.ticket) || !isRecord(body.notifications)) throw invalid('GET', path, 'something other than { ticket, notifications }');
      return body as unknown as TicketView;
    },
    async listAgents(filter) {
      const query = new URLSearchParams();
      if (filter.project !== undefined) query.set('project', filter.project);
      const body = await request('GET', '/v1/agents', query);
      if (!isRecord(body) || !Array.isArray(body.agents)) throw invalid('GET', '/v1/agents', 'something other than { agents }');
      return body.agents as AgentView[];
    },
    async agentStats(filter) {
      const query = new URLSearchParams();
      if (filter.since !== undefined) query.set('since', filter.since);
      if (filter.project !== undefined) query.set('project', filter.project);
      const body = await request('GET', '/v1/agents/stats', query);
      if (!isRecord(body) || !Array.isArray(body.agents) || !Array.isArray(body.runbooks)) throw invalid('GET', '/v1/agents/stats', 'something other than { since, until, agents, runbooks }');
      return body as unknown as TrackRecordView;
    },
    get: (id: string) => detail('GET', `/v1/missions/${encodeURIComponent(id)}`),
    cancel: (id: string) => detail('POST', `/v1/missions/${encodeURIComponent(id)}/cancel`),
    async report(id: string): Promise<string> {
      const path = `/v1/missions/${encodeURIComponent(id)}/report`;
      const text = await request('GET', path, undefined, undefined, 'text/markdown');
      if (typeof text !== 'string' || !text.startsWith('# ')) throw invalid('GET', path, 'something other than a Markdown report');
      return text;
    },
  };
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

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
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
