/**
 * A kill switch (DESIGN.md, "Guards"): while engaged, no new write step runs in its scope; running
 * missions park before their next write and continue (after a fresh review) when it is released.
 * Scopes: `global`, `project:<name>`, `agent:<name>`.
 */
export interface KillSwitch {
  readonly scope: string;
  readonly engaged: boolean;
  readonly reason: string;
  readonly engagedBy: string | null;
  /** ms since the Unix epoch. */
  readonly engagedAt: number | null;
  readonly releasedBy: string | null;
  readonly releasedAt: number | null;
}

const SCOPE = /^(global|project:[a-z0-9][a-z0-9_-]{0,62}|agent:[^\s]{1,200})$/;

/** True for a well-formed kill-switch scope (`global`, `project:<slug>`, `agent:<name>`). */
export function isKillSwitchScope(scope: string): boolean {
  return SCOPE.test(scope);
}

/** The kill-switch scopes that cover a mission: global, its project and, if an agent proposed it, that agent. */
export function killSwitchScopes(mission: { project: string; agent: string | null }): string[] {
  return ['global', `project:${mission.project}`, ...(mission.agent === null ? [] : [`agent:${mission.agent}`])];
}
