import type { Decision } from '../review/decision.js';
import type { RiskClass } from '../tools/tool.js';

/**
 * The trust ladder (DESIGN.md, "Autonomy level"), lowest to highest: `suggest` (propose only, a person
 * acts), `approve` (execute after approval), `auto-notify` (execute, and tell people), `auto`.
 */
export const AUTONOMY_LEVELS = ['suggest', 'approve', 'auto-notify', 'auto'] as const;

/** One rung of the trust ladder. */
export type AutonomyLevel = (typeof AUTONOMY_LEVELS)[number];

/**
 * One autonomy rule: the level for actions matching every given field. `tool` is a tool name or a
 * prefix ending in `*` (`supervisor.*`); `tier` is the target's service tier.
 */
export interface AutonomyRule {
  readonly tool?: string;
  readonly risk?: RiskClass;
  readonly tier?: string;
  readonly level: AutonomyLevel;
}

/** The autonomy level of one action and the rule that set it (`default` when none matched). */
export interface ResolvedAutonomy {
  readonly level: AutonomyLevel;
  readonly rule: string;
}

/**
 * The autonomy level for an action: the LOWEST level among the rules that match it (a tool rule and a
 * tier rule both apply, and the stricter wins), or `fallback` when none matches.
 */
export function resolveAutonomy(rules: readonly AutonomyRule[], fallback: AutonomyLevel, action: { tool: string; risk: RiskClass; tier: string | null }): ResolvedAutonomy {
  let resolved: ResolvedAutonomy = { level: fallback, rule: 'default' };
  let matched = false;
  rules.forEach((rule, index) => {
    const toolMatches = rule.tool === undefined || (rule.tool.endsWith('*') ? action.tool.startsWith(rule.tool.slice(0, -1)) : action.tool === rule.tool);
    const applies = toolMatches && (rule.risk === undefined || rule.risk === action.risk) && (rule.tier === undefined || rule.tier === action.tier);
    if (!applies) return;
    if (!matched || AUTONOMY_LEVELS.indexOf(rule.level) < AUTONOMY_LEVELS.indexOf(resolved.level)) {
      resolved = { level: rule.level, rule: `autonomy/${index + 1}` };
    }
    matched = true;
  });
  return resolved;
}

/**
 * Applies an autonomy level to a policy decision: `approve` raises `allow` to `require_approval`;
 * `suggest` keeps the decision but the mission stops before executing; `auto-notify` and `auto` leave
 * it as it is. Policy can only be made stricter by autonomy, never looser.
 */
export function applyAutonomy<D extends Decision>(decision: D, autonomy: ResolvedAutonomy): D {
  if (autonomy.level !== 'approve' || decision.effect !== 'allow') return decision;
  return {
    ...decision,
    effect: 'require_approval',
    reasons: [...decision.reasons, { rule: autonomy.rule, effect: 'require_approval', message: 'autonomy level approve: a person approves before it runs' }],
  };
}
