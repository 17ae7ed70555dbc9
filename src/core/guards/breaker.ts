/** One executed write as the guards remember it. */
export interface ActionRecord {
  readonly missionId: string;
  readonly stepId: string;
  readonly tool: string;
  /** Canonical key of the target, e.g. `checkout@production`. */
  readonly targetKey: string;
  readonly agent: string | null;
  /** Digest of the target's observed state just before the action (`''` when the tool cannot observe). */
  readonly stateHash: string;
  /** ms since the Unix epoch. */
  readonly at: number;
}

/** Circuit breaker settings: X actions within Y ms without the observed state changing trip it. */
export interface BreakerSettings {
  /** Actions on the same target by the same tool that trip the breaker (X). */
  readonly maxActions: number;
  /** Window, ms (Y). */
  readonly windowMs: number;
}

/**
 * Whether the next action of `tool` on `targetKey` must be frozen: it would be the `maxActions`-th
 * within `windowMs` while the observed state (`stateHash`) is the same as before each of the earlier
 * ones. That is the oscillation the breaker exists for: two agents flipping one setting, or one agent
 * restarting a service that does not get better. An action whose target state changed in between
 * resets the count. A tool that cannot observe (`stateHash` `''`) counts every action. The steps of
 * one mission's own plan do not count against each other (a reviewed plan may write one target
 * several times); repeats come from other missions.
 */
export function breakerTrips(history: readonly ActionRecord[], next: { missionId: string; tool: string; targetKey: string; stateHash: string; at: number }, settings: BreakerSettings): boolean {
  const repeats = history.filter((a) => a.missionId !== next.missionId && a.tool === next.tool && a.targetKey === next.targetKey && next.at - a.at < settings.windowMs && a.stateHash === next.stateHash);
  return repeats.length + 1 >= settings.maxActions;
}

/** A sliding-window rate limit: at most `max` actions per `windowMs`. */
export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
}

/**
 * When the next action may run under `limit`, given the times of earlier actions in the same scope
 * (ms since the epoch): `now` when under the limit, else the moment the oldest action in the window
 * leaves it.
 */
export function rateLimitAllowsAt(times: readonly number[], now: number, limit: RateLimit): number {
  const inWindow = times.filter((t) => now - t < limit.windowMs).sort((a, b) => a - b);
  if (inWindow.length < limit.max) return now;
  return inWindow[inWindow.length - limit.max]! + limit.windowMs;
}
