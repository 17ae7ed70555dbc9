import type { z } from 'zod';

/**
 * Risk classes of a tool, least to most dangerous (DESIGN.md, "Tool"):
 * `read` observes, `draft` writes something a person must still act on, `write-low` changes
 * low-stakes state, `write-prod` changes production.
 */
export const RISK_CLASSES = ['read', 'draft', 'write-low', 'write-prod'] as const;

/** How much harm a tool call can do. */
export type RiskClass = (typeof RISK_CLASSES)[number];

/** True for the risk classes that change state outside Interlock (`write-low`, `write-prod`). */
export function isWrite(risk: RiskClass): boolean {
  return risk === 'write-low' || risk === 'write-prod';
}

/** What a tool call runs with, besides its arguments. */
export interface ToolContext {
  /** Stable across attempts and crashes of the same step: `<missionId>:<stepId>` (or `…:compensate`). */
  readonly idempotencyKey: string;
  readonly missionId: string;
  readonly stepId: string;
  /** 1-based attempt number of this call within the step. */
  readonly attempt: number;
  /** Aborted when the call's timeout expires or its mission is cancelled; tools should stop I/O then. */
  readonly signal: AbortSignal;
}

/** A call of one tool with its arguments, as the engine hands it to probes and verifications. */
export interface ToolCall<I> {
  readonly tool: string;
  readonly args: I;
  readonly idempotencyKey: string;
}

/**
 * What re-observing the world says about a call whose outcome is unknown (crash or timeout mid-call):
 * it took effect (with the result to record), it did not (safe to run), or nobody can tell.
 */
export type ProbeResult<O> =
  | { readonly state: 'applied'; readonly result: O }
  | { readonly state: 'not_applied' }
  | { readonly state: 'unknown'; readonly reason: string };

/** The result of one verification check: does the world now look as the action intended? */
export interface VerificationCheck {
  readonly ok: boolean;
  /** What was observed, in words a person reads in the mission report. */
  readonly observed: string;
}

/**
 * An independent re-observation after a write (DESIGN.md: a tool's own "success" is never proof).
 * The engine runs `check` every `intervalMs` until it has held for `windowMs`, failing at `timeoutMs`.
 */
export interface VerificationProbe<I, O> {
  check(call: ToolCall<I>, result: O, signal: AbortSignal): Promise<VerificationCheck>;
  /** How long the check must keep passing, ms. @default 0 (one passing check is enough) */
  readonly windowMs?: number;
  /** Pause between checks, ms. @default 1000 */
  readonly intervalMs?: number;
  /** Give up and fail the verification after this long, ms. @default 60000 */
  readonly timeoutMs?: number;
}

/** How to undo a completed write: another tool, with arguments derived from the call and its result. */
export interface Compensation<I, O> {
  readonly tool: string;
  args(args: I, result: O): Record<string, unknown>;
}

/** Retry policy for failures the tool marks retryable; delays grow by `backoffRate` each attempt. */
export interface RetryPolicy {
  /** Attempts in total, including the first. @default 3 */
  readonly maxAttempts: number;
  /** Delay before the second attempt, ms. @default 500 */
  readonly intervalMs: number;
  /** Multiplier of the delay after each retry. @default 2 */
  readonly backoffRate: number;
}

/**
 * A tool's contract (DESIGN.md, "Tool"): a narrow verb with schemas, a risk class, idempotency,
 * compensation, verification, timeout and the permission it needs. Connectors provide tools;
 * the engine and the gates only ever call them through this contract.
 */
export interface ToolContract<I = unknown, O = unknown> {
  /** `<connector>.<verb>`, e.g. `supervisor.restart`. */
  readonly name: string;
  /** One sentence a reviewer and an LLM can act on. */
  readonly description: string;
  readonly input: z.ZodType<I>;
  readonly output: z.ZodType<O>;
  readonly risk: RiskClass;
  /** True when running the same call twice has the effect of running it once. */
  readonly idempotent: boolean;
  /** Longest a single attempt may run, ms. */
  readonly timeoutMs: number;
  /** Permission the caller must hold, e.g. `supervisor:restart`. */
  readonly permission: string;
  /** Retry policy for retryable failures; absent means one attempt. */
  readonly retry?: RetryPolicy;
  /**
   * Labels clients filter the catalog by (MCP `tools/list`, `GET /v1/tools?tag=`), e.g. `evidence` or
   * `mcp`. The connector (the name before the first dot) is always one of the tool's tags.
   */
  readonly tags?: readonly string[];
  /** Projects whose missions may call the tool; absent: every project. */
  readonly projects?: readonly string[];
  /**
   * The input and output JSON Schemas as the tool's provider gave them (an external MCP server), shown
   * by the catalog instead of the ones derived from `input` and `output`.
   */
  readonly inputJsonSchema?: Record<string, unknown>;
  readonly outputJsonSchema?: Record<string, unknown>;
  /**
   * Why the tool may not be called now, in a sentence a person acts on (e.g. its definition changed
   * and waits for operator review), or undefined when it may. Missions naming an unavailable tool are
   * refused (`TOOL_UNAVAILABLE`) and the catalog does not list it for clients.
   */
  unavailable?(): string | undefined;
  /**
   * What a call touches, from its arguments (service, environment, tier, labels); policy reads it as
   * `target`. Fields it leaves null are filled from the mission's labels.
   */
  target?(args: I): Partial<{ service: string | null; environment: string | null; tier: string | null; labels: Record<string, string> }>;
  /** How to undo a completed call; writes without one cannot be compensated in a saga. */
  readonly compensation?: Compensation<I, O>;
  /**
   * Reads the current state of the call's target (e.g. `{ memoryLimitMb: 512, healthy: false }`): what
   * policy sees as `state`, and what the circuit breaker compares between repeated actions.
   */
  observe?(args: I, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Re-observes whether a call with this idempotency key took effect; needed to recover a non-idempotent write. */
  probe?(call: ToolCall<I>, signal: AbortSignal): Promise<ProbeResult<O>>;
  readonly verification?: VerificationProbe<I, O>;
  /** Performs the call. Throws `ConnectorError` on failure, with `retryable` and `outcomeUnknown` set honestly. */
  execute(args: I, context: ToolContext): Promise<O>;
}

/** A tool contract with its type parameters erased, as the catalog holds it. */
export type AnyToolContract = ToolContract<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The default retry policy for retryable failures. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, intervalMs: 500, backoffRate: 2 };
