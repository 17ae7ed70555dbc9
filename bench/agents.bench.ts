// Agents (issue #8): the decision latency of the built-in reasoner per incident (the `agents.handoff`
// step: triage → resolution → governance → utility, with the runbook's plan, the governance verdict,
// four audit entries and the resolution agent's mission) against `runbooks.dispatch` for the same
// runbook (plan and mission, no agents) measured in the same run; the LLM path's overhead excluding
// model time (a local OpenAI-compatible endpoint answering a recorded response, its own time
// subtracted); and the token accounting checked against the recorded responses' usage.
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize, type Summary } from './support/stats.js';
import { SCRIPTED_USAGE, startAgentsInterlock, startScriptedModel, type AgentsInterlock } from '../test/support/agents.js';
import type { MissionDetail } from '../src/core/missions/mission.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  /** Incidents per path, after the warm-up. */
  incidents: 20,
  /** Incidents per path before measuring. */
  warmUp: 3,
} as const;

/** Duration of step `stepId` of `mission`, ms (as the engine recorded it). */
function stepMs(mission: MissionDetail, stepId: string): number {
  const step = mission.steps.find((s) => s.stepId === stepId);
  if (step?.status !== 'succeeded' || step.startedAt === null || step.finishedAt === null) throw new Error(`step ${stepId} of mission ${mission.id} did not succeed: ${JSON.stringify(step?.error ?? mission.escalation)}`);
  return step.finishedAt - step.startedAt;
}

interface AgentsFigures {
  readonly dispatchMs: Summary;
  readonly builtinHandOffMs: Summary;
  readonly llmHandOffMs: Summary;
  readonly llmModelServerMs: Summary;
  readonly llmHandOffExcludingModelMs: Summary;
  readonly tokens: { readonly recordedPerCall: number; readonly calls: number; readonly accountedInSteps: number; readonly accountedInAudit: number; readonly costUsdPerCall: number | null };
}

async function measure(progress: Progress): Promise<AgentsFigures> {
  const model = await startScriptedModel();
  const agents: AgentsInterlock = await startAgentsInterlock('bench_agents', model);
  try {
    const dispatchOnce = async (): Promise<number> => {
      const incidentId = await agents.incident();
      const { mission } = await agents.it.running.engine.create({
        title: 'Diagnose LedgerErrors', labels: { incident: incidentId, service: 'ledger' },
        steps: [{ id: 'diagnose', tool: 'test.diagnose' }, { id: 'dispatch', tool: 'runbooks.dispatch', args: { incidentId, diagnosisStep: 'diagnose' } }],
      }, { name: 'interlock-intake', kind: 'service' });
      return stepMs(await agents.it.waitFor(mission.id), 'dispatch');
    };
    const handOffOnce = async (to: string): Promise<number> => stepMs(await agents.triage('auto-triage', to), 'handoff');
    progress(`warm-up: ${PARAMETERS.warmUp} incidents per path`);
    for (let i = 0; i < PARAMETERS.warmUp; i++) {
      await dispatchOnce();
      await handOffOnce('auto-resolver');
      await handOffOnce('llm-resolver');
    }
    const serverBefore = model.serverMs.length;
    const auditBefore = (await agents.it.running.audit.query({ kinds: ['model.output'], limit: 1000 })).entries.length;
    progress(`${PARAMETERS.incidents} incidents per path, interleaved: runbooks.dispatch, built-in hand-off, LLM hand-off`);
    const dispatch: number[] = [];
    const builtin: number[] = [];
    const llm: number[] = [];
    const llmMissions: MissionDetail[] = [];
    for (let i = 0; i < PARAMETERS.incidents; i++) {
      dispatch.push(await dispatchOnce());
      builtin.push(await handOffOnce('auto-resolver'));
      const mission = await agents.triage('auto-triage', 'llm-resolver');
      llm.push(stepMs(mission, 'handoff'));
      llmMissions.push(mission);
    }
    const server = model.serverMs.slice(serverBefore);
    if (server.length !== PARAMETERS.incidents) throw new Error(`expected ${PARAMETERS.incidents} model calls, the endpoint saw ${server.length}`);
    // Token accounting: what the steps and the audit log say against what the endpoint reported.
    const accountedInSteps = llmMissions.reduce((sum, m) => sum + ((m.steps.find((s) => s.stepId === 'handoff')?.result as { proposal?: { tokens?: number } } | null)?.proposal?.tokens ?? 0), 0);
    const outputs = (await agents.it.running.audit.query({ kinds: ['model.output'], limit: 1000 })).entries.slice(auditBefore);
    const accountedInAudit = outputs.reduce((sum, e) => sum + Number((e.entry.data as { usage?: { totalTokens?: number } }).usage?.totalTokens ?? 0), 0);
    const cost = (outputs[0]?.entry.data as { usage?: { costUsd?: number | null } } | undefined)?.usage?.costUsd ?? null;
    const expected = SCRIPTED_USAGE.total_tokens * PARAMETERS.incidents;
    if (accountedInSteps !== expected || accountedInAudit !== expected) throw new Error(`token accounting: steps ${accountedInSteps}, audit ${accountedInAudit}, recorded ${expected}`);
    return {
      dispatchMs: summarize(dispatch), builtinHandOffMs: summarize(builtin), llmHandOffMs: summarize(llm), llmModelServerMs: summarize(server),
      llmHandOffExcludingModelMs: summarize(llm.map((ms, i) => ms - server[i]!)),
      tokens: { recordedPerCall: SCRIPTED_USAGE.total_tokens, calls: PARAMETERS.incidents, accountedInSteps, accountedInAudit, costUsdPerCall: cost },
    };
  } finally {
    await agents.close();
    await model.close();
  }
}

function markdownOf(figures: AgentsFigures, ratios: Record<string, number>): string {
  const ms = (s: Summary): [string, string] => [formatNumber(s.p50, 0), formatNumber(s.p99, 0)];
  const table = markdownTable(['step (per incident)', 'p50 (ms)', 'p99 (ms)', 'ratio of p50 to runbooks.dispatch'], [
    ['`runbooks.dispatch`: the runbook\'s plan and the remediation mission (no agents)', ...ms(figures.dispatchMs), '1×'],
    ['`agents.handoff`, built-in reasoner: triage → resolution → governance → utility, 4 audit entries, the same runbook, the resolution agent\'s mission', ...ms(figures.builtinHandOffMs), `${formatNumber(ratios.builtinOverDispatchP50 ?? Number.NaN, 2)}×`],
    ['`agents.handoff`, LLM reasoner (local OpenAI-compatible endpoint, recorded answer)', ...ms(figures.llmHandOffMs), `${formatNumber(ratios.llmOverDispatchP50 ?? Number.NaN, 2)}×`],
    ['of which the endpoint\'s own time', ...ms(figures.llmModelServerMs), ''],
    ['LLM hand-off excluding model time', ...ms(figures.llmHandOffExcludingModelMs), `${formatNumber(ratios.llmExcludingModelOverBuiltinP50 ?? Number.NaN, 2)}× the built-in hand-off`],
  ]);
  const t = figures.tokens;
  return [
    `${PARAMETERS.incidents} incidents per path after ${PARAMETERS.warmUp} warm-up incidents, interleaved, one Interlock in-process on the machine's PostgreSQL; the durations are the steps' own (started to finished, as the engine recorded them). The LLM path includes building and fencing the prompt, the \`model.prompt\` and \`model.output\` audit entries, the HTTP round trip on loopback, parsing and validating the plan against the schema, the tool set and each tool's input schema.`,
    '',
    table,
    '',
    `Token accounting, checked (the benchmark fails on a difference): the endpoint reported ${t.recordedPerCall} tokens per call for ${t.calls} calls (${t.recordedPerCall * t.calls}); the hand-off steps accounted ${t.accountedInSteps} and the \`model.output\` audit entries ${t.accountedInAudit}; cost per call at the configured prices: ${t.costUsdPerCall === null ? 'not configured' : `$${t.costUsdPerCall.toFixed(6)}`}.`,
  ].join('\n');
}

/** `npm run bench -- agents`. */
export const benchmark: Benchmark = {
  name: 'agents',
  async run(progress): Promise<BenchmarkReport> {
    const figures = await measure(progress);
    const ratios = {
      builtinOverDispatchP50: round(figures.builtinHandOffMs.p50 / figures.dispatchMs.p50, 2),
      llmOverDispatchP50: round(figures.llmHandOffMs.p50 / figures.dispatchMs.p50, 2),
      llmExcludingModelOverBuiltinP50: round(figures.llmHandOffExcludingModelMs.p50 / figures.builtinHandOffMs.p50, 2),
    };
    return { parameters: { ...PARAMETERS }, figures, ratios, markdown: markdownOf(figures, ratios) };
  },
};
