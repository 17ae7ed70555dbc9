import { breakerTrips, rateLimitAllowsAt, type BreakerSettings, type RateLimit } from '../core/guards/breaker.js';
import { killSwitchScopes } from '../core/guards/kill-switch.js';
import type { MissionDetail, MissionStep } from '../core/missions/mission.js';
import type { GuardStore } from '../core/ports.js';
import type { AnyToolContract } from '../core/tools/tool.js';
import { observeTarget, resolveTarget, stateHash, targetKey } from './review-round.js';

/** Guard settings: the circuit breaker (and how long it freezes) and the rate limits. */
export interface GuardSettings {
  readonly breaker: BreakerSettings & { readonly freezeMs: number };
  /** Writes per agent; null for no limit. */
  readonly perAgent: RateLimit | null;
  /** Writes per target; null for no limit. */
  readonly perTarget: RateLimit | null;
}

/** What the guards say about the next write, checkpointed as a DBOS step result. */
export type GuardVerdict =
  | { readonly kind: 'ok'; readonly targetKey: string; readonly stateHash: string }
  | { readonly kind: 'kill_switch'; readonly scopes: readonly string[]; readonly reason: string }
  | { readonly kind: 'frozen'; readonly reason: string; readonly until: number }
  | { readonly kind: 'rate_limit'; readonly scope: string; readonly until: number };

/**
 * Checks the guards right before a write step runs: an engaged kill switch covering the mission
 * (global, project, agent); a freeze of this tool on this target; the circuit breaker (which freezes
 * the action and reports `frozen` when it trips); and the rate limits per agent and per target.
 */
export async function checkGuards(input: {
  readonly guards: GuardStore;
  readonly settings: GuardSettings;
  readonly mission: MissionDetail;
  readonly step: MissionStep;
  readonly tool: AnyToolContract;
  readonly now: number;
  readonly signal: AbortSignal;
}): Promise<GuardVerdict> {
  const { guards, settings, mission, step, tool, now } = input;
  const agent = mission.request.agent ?? null;
  const engaged = await guards.engagedKillSwitches(killSwitchScopes({ project: mission.project, agent }));
  if (engaged.length > 0) {
    return { kind: 'kill_switch', scopes: engaged.map((s) => s.scope), reason: engaged.map((s) => `${s.scope}: ${s.reason}`).join('; ') };
  }
  const key = targetKey(resolveTarget(tool, step.args, mission.labels));
  const frozen = await guards.frozen(tool.name, key, now);
  if (frozen !== undefined) return { kind: 'frozen', reason: frozen.reason, until: frozen.until };

  const hash = stateHash(await observeTarget(tool, step.args, input.signal));
  const history = await guards.recentActions({ tool: tool.name, targetKey: key, since: now - settings.breaker.windowMs });
  if (breakerTrips(history, { missionId: mission.id, tool: tool.name, targetKey: key, stateHash: hash, at: now }, settings.breaker)) {
    const until = now + settings.breaker.freezeMs;
    const reason = `circuit breaker: ${tool.name} on ${key} would run ${history.filter((a) => a.missionId !== mission.id).length + 1} times within ${Math.round(settings.breaker.windowMs / 1000)} s without the observed state changing (by ${[...new Set(history.map((a) => a.agent ?? a.missionId))].join(', ')})`;
    await guards.freeze(tool.name, key, until, reason, now);
    return { kind: 'frozen', reason, until };
  }
  if (settings.perAgent !== null && agent !== null) {
    const times = (await guards.recentActions({ agent, since: now - settings.perAgent.windowMs })).map((a) => a.at);
    const at = rateLimitAllowsAt(times, now, settings.perAgent);
    if (at > now) return { kind: 'rate_limit', scope: `agent:${agent}`, until: at };
  }
  if (settings.perTarget !== null) {
    const at = rateLimitAllowsAt((await guards.recentActions({ targetKey: key, since: now - settings.perTarget.windowMs })).map((a) => a.at), now, settings.perTarget);
    if (at > now) return { kind: 'rate_limit', scope: `target:${key}`, until: at };
  }
  return { kind: 'ok', targetKey: key, stateHash: hash };
}
