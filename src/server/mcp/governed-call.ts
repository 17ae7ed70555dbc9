/**
 * One governed tool call on behalf of an MCP client: the call becomes a one-step mission of the
 * caller, so it passes contract validation, policy, approvals, execution and audit exactly as an
 * internal agent's mission does (DESIGN.md, "The governed loop"). The caller waits for the mission a
 * bounded time and gets its result, its refusal, or a pending answer naming the approval request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isInterlockError } from '../../core/errors.js';
import type { Principal } from '../../core/identity/identity.js';
import type { MissionDetail, MissionRequestInput } from '../../core/missions/mission.js';
import type { ApprovalService, MissionService } from '../../core/ports.js';

/** How often a waiting call re-reads its mission, ms. */
const POLL_MS = 50;

/** Where a person decides an approval request: the API route and the CLI command. */
export interface ApprovalPointer {
  readonly approvalId: string;
  /** `<publicUrl>/v1/approvals/<id>`: show it; `POST …/approve` or `…/deny` decides it. */
  readonly url: string;
  /** The CLI command a second identity runs to approve it. */
  readonly cli: string;
}

/** What became of a governed call: its result, a refusal or failure, or a wait for people or time. */
export type GovernedCallOutcome =
  | { readonly status: 'succeeded'; readonly missionId: string; readonly result: unknown }
  | { readonly status: 'failed'; readonly missionId: string | null; readonly code: string; readonly message: string; readonly details?: unknown }
  | { readonly status: 'pending_approval'; readonly missionId: string; readonly approval: ApprovalPointer | null; readonly message: string }
  | { readonly status: 'running'; readonly missionId: string; readonly message: string };

/** What {@link GovernedCaller} needs: the engine, the approvals module, and where people approve. */
export interface GovernedCallerDeps {
  readonly missions: MissionService;
  readonly approvals: Pick<ApprovalService, 'list'>;
  /** Base URL people reach the API at, e.g. `https://interlock.example.com`, read when a link is made. */
  readonly publicUrl: () => string;
}

/** One call: who, in which project, which tool with which arguments, from which client. */
export interface GovernedCallInput {
  readonly principal: Principal;
  readonly project: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  /** The MCP client's `clientInfo.name`, recorded as the mission label `mcp-client`. */
  readonly client: string;
  /** Longest the call waits for the mission to end or to wait for approval, ms. */
  readonly waitMs: number;
  /** Stops waiting (not the mission) when the client cancels the request. */
  readonly signal?: AbortSignal;
}

/** Runs governed calls; see the module comment. */
export class GovernedCaller {
  readonly #deps: GovernedCallerDeps;

  constructor(deps: GovernedCallerDeps) {
    this.#deps = deps;
  }

  /**
   * Creates the one-step mission `MCP tools/call <tool>` as `input.principal` (validated by the
   * engine: unknown tool, bad arguments and unavailable tools are refused with their code), then
   * waits up to `waitMs` for it ({@link GovernedCaller.follow}). Never throws for a refusal; throws
   * only what the engine throws for reasons other than the request (e.g. `ENGINE_NOT_READY`).
   */
  async call(input: GovernedCallInput): Promise<GovernedCallOutcome> {
    const request: MissionRequestInput = {
      title: `MCP tools/call ${input.tool}`.slice(0, 200),
      project: input.project,
      steps: [{ id: 'call', tool: input.tool, args: input.args }],
      labels: { via: 'mcp', 'mcp-client': input.client.slice(0, 200) },
    };
    let mission: MissionDetail;
    try {
      ({ mission } = await this.#deps.missions.create(request, { name: input.principal.name, kind: input.principal.kind }));
    } catch (error) {
      if (isInterlockError(error) && error.status < 500) return { status: 'failed', missionId: null, code: error.code, message: error.message, details: error.details };
      throw error;
    }
    return this.follow(mission.id, input.waitMs, input.signal);
  }

  /**
   * Follows mission `missionId` for up to `waitMs`: its first plan step's result once it resolved; a
   * failure naming the outcome and why when it ended otherwise; `pending_approval` (with where to
   * approve) as soon as it waits for a person; `running` when time is up.
   */
  async follow(missionId: string, waitMs: number, signal?: AbortSignal): Promise<GovernedCallOutcome> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const mission = await this.#deps.missions.get(missionId);
      const settled = await this.#settled(mission);
      if (settled !== undefined) return settled;
      if (Date.now() >= deadline || signal?.aborted === true) {
        return { status: 'running', missionId, message: `Mission ${missionId} is still ${mission.stage}${mission.waitingFor === null ? '' : `, waiting for ${mission.waitingFor}`}; ask again with interlock.missions.status.` };
      }
      await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())), undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
    }
  }

  /** The outcome of `mission` if there is one to report now. */
  async #settled(mission: MissionDetail): Promise<GovernedCallOutcome | undefined> {
    if (mission.outcome === 'resolved') {
      const step = mission.steps.find((s) => s.phase === 'plan');
      return { status: 'succeeded', missionId: mission.id, result: step?.result ?? null };
    }
    if (mission.outcome !== null) {
      const failed = mission.steps.find((s) => s.error !== null && s.phase === 'plan');
      const why = mission.escalation?.reason ?? failed?.error?.message ?? mission.decision?.reasons.map((r) => r.message).join('; ') ?? 'no reason recorded';
      return {
        status: 'failed', missionId: mission.id, code: failed?.error?.code ?? `MISSION_${mission.outcome.toUpperCase()}`,
        message: `Mission ${mission.id} ended ${mission.outcome}: ${why}`,
        details: { outcome: mission.outcome, decision: mission.decision?.effect ?? null },
      };
    }
    if (mission.waitingFor !== 'approval') return undefined;
    // The mission shows the wait just before its request is stored: report it once it exists.
    const [request] = await this.#deps.approvals.list({ missionId: mission.id, status: 'pending', limit: 1 });
    if (request === undefined) return undefined;
    const approval = pointerTo(this.#deps.publicUrl(), request.id);
    const quorum = request.requirement.quorum;
    const groups = request.requirement.groups.length === 0 ? 'any approver' : `a member of ${request.requirement.groups.join(' or ')}`;
    return {
      status: 'pending_approval', missionId: mission.id, approval,
      message: `Policy requires approval before this runs (${request.reasons.map((r) => r.message).join('; ')}). ` +
        `Approval request ${request.id} needs ${quorum} approval(s) from ${groups}, never from ${request.requester}: ` +
        `${approval.cli} or POST ${approval.url}/approve. Nothing has run yet; follow it with interlock.missions.status.`,
    };
  }
}

/** Where approval request `id` is decided. */
export function pointerTo(publicUrl: string, id: string): ApprovalPointer {
  return { approvalId: id, url: `${publicUrl.replace(/\/+$/, '')}/v1/approvals/${id}`, cli: `interlock approvals approve ${id}` };
}
