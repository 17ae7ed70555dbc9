import type { RiskClass } from '../tools/tool.js';

/** What review decides about an action (DESIGN.md, "Policy"), least to most restrictive. */
export const EFFECTS = ['allow', 'require_approval', 'escalate', 'deny'] as const;

/** The effect of a decision. */
export type Effect = (typeof EFFECTS)[number];

/** One rule that contributed to a decision, with its message. */
export interface DecisionReason {
  /** Rule identifier, e.g. `default/write-prod` or `freeze/prod-window`. */
  readonly rule: string;
  readonly effect: Effect;
  readonly message: string;
}

/** A review decision: the effect and every rule that produced it. A value, never an exception. */
export interface Decision {
  readonly effect: Effect;
  readonly reasons: readonly DecisionReason[];
}

const RANK: Readonly<Record<Effect, number>> = { allow: 0, require_approval: 1, escalate: 2, deny: 3 };

/**
 * Combines decisions; the most restrictive effect wins (deny > escalate > require_approval > allow)
 * and the distinct reasons (by rule and message) of every decision with that effect are kept, in
 * order. With no decisions, the result is `fallback`.
 */
export function combineDecisions(decisions: readonly Decision[], fallback: Decision): Decision {
  if (decisions.length === 0) return fallback;
  let effect: Effect = 'allow';
  for (const decision of decisions) if (RANK[decision.effect] > RANK[effect]) effect = decision.effect;
  const reasons = new Map<string, DecisionReason>();
  for (const decision of decisions) {
    if (decision.effect !== effect) continue;
    for (const reason of decision.reasons) {
      const key = JSON.stringify([reason.rule, reason.message]);
      if (!reasons.has(key)) reasons.set(key, reason);
    }
  }
  return { effect, reasons: [...reasons.values()] };
}

/** The effect per risk class that applies when no policy rule matches. */
export type DefaultEffects = Readonly<Record<RiskClass, Effect>>;

/**
 * The shipped defaults when no rule matches (issue #3): `write-prod` needs approval, everything
 * else is allowed; an unknown tool never reaches review (the catalog refuses it).
 */
export const SHIPPED_DEFAULT_EFFECTS: DefaultEffects = { read: 'allow', draft: 'allow', 'write-low': 'allow', 'write-prod': 'require_approval' };

/** The decision for one action of risk class `risk` under the default effects. */
export function defaultDecision(risk: RiskClass, defaults: DefaultEffects = SHIPPED_DEFAULT_EFFECTS): Decision {
  const effect = defaults[risk];
  return { effect, reasons: [{ rule: `default/${risk}`, effect, message: `no policy rule matched; the default for ${risk} tools is ${effect}` }] };
}
