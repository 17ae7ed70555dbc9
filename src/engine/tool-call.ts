import { ConnectorError, InterlockError, InternalError } from '../core/errors.js';
import type { StepError } from '../core/missions/mission.js';
import type { MissionStore, WorkerRegistry } from '../core/ports.js';
import type { AnyToolContract, ProbeResult } from '../core/tools/tool.js';
import { toIssues } from '../core/validation.js';

/** How one attempt of a tool call ended, as checkpointed by the workflow. */
export type AttemptResult =
  | { readonly status: 'succeeded'; readonly result: unknown; readonly recovered: 'none' | 'recorded' | 'probe' }
  | { readonly status: 'failed'; readonly error: StepError }
  | { readonly status: 'unknown'; readonly error: StepError };

/** What one attempt needs: the store, the worker registry for fencing, the tool and the call. */
export interface AttemptInput {
  readonly store: MissionStore;
  readonly workers: WorkerRegistry;
  readonly workerId: string;
  readonly tool: AnyToolContract;
  readonly missionId: string;
  readonly stepId: string;
  readonly args: Record<string, unknown>;
  readonly idempotencyKey: string;
  /** Aborted when the mission is cancelled or the worker stops. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  /**
   * Called when peers have declared this worker dead. It must stop the process (or never return):
   * nothing of this attempt may be recorded, because the mission now belongs to another worker.
   */
  readonly fenced: () => Promise<never>;
  /**
   * Records that the call is about to run, durably, before any I/O of the tool (the audit log, fail
   * closed): when it throws, the call does not run and the attempt throws too.
   */
  readonly recordCall: (attempt: number) => Promise<void>;
}

/**
 * Runs one attempt of a step's tool call, safely under crashes. Before any I/O the attempt is
 * recorded as `running` (the intent). If a previous attempt of the same step was left `running`,
 * its outcome is unknown: an idempotent tool is simply called again with the same idempotency key;
 * a non-idempotent one is re-observed through its probe and called again only when the probe says
 * the call did not take effect. When nothing can tell, the step becomes `unknown` and is never
 * retried blindly. A step already `succeeded` returns its recorded result without I/O.
 *
 * Before each call it renews this worker's heartbeat; a worker its peers declared dead calls
 * `fenced` instead of writing.
 */
export async function attemptToolCall(input: AttemptInput): Promise<AttemptResult> {
  const { store, tool, missionId, stepId } = input;
  const step = await store.getStep(missionId, stepId);
  if (step === undefined) throw new InternalError(`Step ${stepId} of mission ${missionId} was never recorded.`);
  if (step.status === 'succeeded') return { status: 'succeeded', result: step.result, recovered: 'recorded' };
  if (step.status === 'unknown' && step.error !== null) return { status: 'unknown', error: step.error };

  if (step.status === 'running') {
    const resolved = await resolveInterrupted(input);
    if (resolved !== undefined) return resolved;
  }

  if (!(await input.workers.heartbeat(input.workerId, input.now()))) await input.fenced();
  const attempt = step.attempts + 1;
  await input.recordCall(attempt);
  await store.updateStep(missionId, stepId, { status: 'running', attempts: attempt, startedAt: input.now(), error: null });

  try {
    const result = await callWithTimeout(input, attempt);
    await store.updateStep(missionId, stepId, { status: 'succeeded', result, finishedAt: input.now() });
    return { status: 'succeeded', result, recovered: 'none' };
  } catch (error) {
    const stepError = toStepError(error);
    if (stepError.outcomeUnknown && !tool.idempotent) {
      const probed = await probeOutcome(input, stepError.message);
      if (probed.status !== 'failed') return probed;
      // The probe established that the call did not take effect: an ordinary, retryable failure.
      const notApplied = { ...stepError, outcomeUnknown: false, retryable: true };
      await store.updateStep(missionId, stepId, { status: 'failed', error: notApplied, finishedAt: input.now() });
      return { status: 'failed', error: notApplied };
    }
    const failed = stepError.outcomeUnknown ? { ...stepError, retryable: true } : stepError;
    await store.updateStep(missionId, stepId, { status: 'failed', error: failed, finishedAt: input.now() });
    return { status: 'failed', error: failed };
  }
}

/** A step left `running` by a crash: decide from the tool's nature or its probe what happened. */
async function resolveInterrupted(input: AttemptInput): Promise<AttemptResult | undefined> {
  if (input.tool.idempotent) return undefined;
  const probed = await probeOutcome(input, 'the worker stopped during the call');
  return probed.status === 'failed' ? undefined : probed;
}

/**
 * Re-observes a non-idempotent call through the tool's probe. `succeeded` and `unknown` are final
 * and recorded; `failed` means "not applied, safe to call again" and is not recorded here.
 */
async function probeOutcome(input: AttemptInput, why: string): Promise<AttemptResult> {
  const { store, tool, missionId, stepId } = input;
  let probe: ProbeResult<unknown>;
  if (tool.probe === undefined) {
    probe = { state: 'unknown', reason: `tool ${tool.name} is not idempotent and has no probe` };
  } else {
    try {
      probe = await tool.probe({ tool: tool.name, args: input.args, idempotencyKey: input.idempotencyKey }, AbortSignal.any([input.signal, AbortSignal.timeout(tool.timeoutMs)]));
    } catch (error) {
      probe = { state: 'unknown', reason: `the probe failed: ${toStepError(error).message}` };
    }
  }
  if (probe.state === 'applied') {
    await store.updateStep(missionId, stepId, { status: 'succeeded', result: probe.result, finishedAt: input.now() });
    return { status: 'succeeded', result: probe.result, recovered: 'probe' };
  }
  if (probe.state === 'not_applied') {
    return { status: 'failed', error: { code: 'TOOL_FAILED', message: `${why}; the probe found the call not applied`, retryable: true, outcomeUnknown: false } };
  }
  const error: StepError = { code: 'TOOL_TIMEOUT', message: `Outcome unknown (${why}): ${probe.reason}. Check ${tool.name} by hand before retrying.`, retryable: false, outcomeUnknown: true };
  await store.updateStep(missionId, stepId, { status: 'unknown', error, finishedAt: input.now() });
  return { status: 'unknown', error };
}

/** Calls the tool with its timeout and validates its output; a timeout is an unknown outcome. */
async function callWithTimeout(input: AttemptInput, attempt: number): Promise<unknown> {
  const { tool } = input;
  const timeout = new AbortController();
  const signal = AbortSignal.any([input.signal, timeout.signal]);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timeout.abort();
      reject(new ConnectorError('TOOL_TIMEOUT', `${tool.name} did not finish within ${tool.timeoutMs} ms; its outcome is unknown.`, { system: tool.name, retryable: tool.idempotent, outcomeUnknown: true }));
    }, tool.timeoutMs);
  });
  try {
    const raw: unknown = await Promise.race([
      tool.execute(input.args, { idempotencyKey: input.idempotencyKey, missionId: input.missionId, stepId: input.stepId, attempt, signal }),
      expired,
    ]);
    const parsed = tool.output.safeParse(raw);
    if (!parsed.success) {
      throw new ConnectorError('TOOL_OUTPUT_INVALID', `${tool.name} returned a result that violates its output schema.`, {
        system: tool.name, retryable: false, details: { issues: toIssues(parsed.error, 'result') },
      });
    }
    return parsed.data;
  } finally {
    clearTimeout(timer);
  }
}

/** The recorded form of any error thrown by a tool. Unknown errors are treated as unknown outcomes. */
export function toStepError(error: unknown): StepError {
  if (error instanceof ConnectorError) {
    return { code: error.code, message: error.message, retryable: error.retryable, outcomeUnknown: error.outcomeUnknown };
  }
  if (error instanceof InterlockError) {
    return { code: error.code, message: error.message, retryable: false, outcomeUnknown: false };
  }
  // An error the tool did not classify: we cannot know whether the call took effect.
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'TOOL_FAILED', message, retryable: false, outcomeUnknown: true };
}
