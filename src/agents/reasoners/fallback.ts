/**
 * Falling back from an LLM reasoner to the built-in one: when the model fails (a timeout, an HTTP
 * error, a budget) or answers garbage (not a valid plan, a tool outside the list), the built-in
 * deterministic reasoner's value is used instead, and the reason is recorded.
 */
import type { ReasonerFailureReason, ReasonerResult } from './llm-reasoner.js';

/** The primary reasoner's failure, as {@link withFallback} records it. */
export interface ReasonerFailure {
  readonly reason: ReasonerFailureReason;
  readonly message: string;
  readonly problems: readonly string[];
}

/**
 * What {@link withFallback} gives: the primary's value (`fellBack: false`), or the fallback's value
 * with the primary's failure (`fellBack: true`). `primary` is the primary's whole result either way,
 * for token and cost accounting.
 */
export type FallbackResult<T> =
  | { readonly fellBack: false; readonly value: T; readonly primary: ReasonerResult<T> }
  | ({ readonly fellBack: true; readonly value: T; readonly primary: ReasonerResult<T> } & ReasonerFailure);

/**
 * Runs `primary` (an LLM reasoner call); when its result is not ok, runs `fallback` (the built-in
 * reasoner) and returns its value with `fellBack: true` and the primary's reason. `onFallback` is
 * called with the failure before the fallback runs (to log it or count it).
 *
 * An exception is not a failed result: when `primary` throws (an audit write that failed, a bug) it
 * propagates and nothing falls back (fail closed). So does an exception from `fallback` or `onFallback`.
 */
export async function withFallback<T>(
  primary: () => Promise<ReasonerResult<T>>,
  fallback: () => Promise<T>,
  onFallback?: (failure: ReasonerFailure) => void | Promise<void>,
): Promise<FallbackResult<T>> {
  const result = await primary();
  if (result.ok) return { fellBack: false, value: result.value, primary: result };
  const failure: ReasonerFailure = { reason: result.reason, message: result.message, problems: result.problems };
  await onFallback?.(failure);
  const value = await fallback();
  return { fellBack: true, value, primary: result, ...failure };
}
