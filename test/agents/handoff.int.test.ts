// Agent hand-offs through a real Interlock (in-process, on the machine's PostgreSQL): a triage agent's
// diagnosis mission hands off to a resolution agent (built-in reasoner: the runbook; LLM reasoner: a
// plan from a local OpenAI-compatible server, with the built-in as fallback on garbage), whose plan a
// governance agent checks before the resolution agent's own mission starts; a utility agent tells
// people. Every hand-off and verdict is on the audit log; refusals and breached bounds escalate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentsInterlock, startScriptedModel, SCRIPTED_PLAN, type AgentsInterlock, type ScriptedModel } from '../support/agents.js';

let agents: AgentsInterlock;
let model: ScriptedModel;
let it_: AgentsInterlock['it'];

beforeAll(async () => {
  model = await startScriptedModel();
  agents = await startAgentsInterlock('agents_handoff', model);
  it_ = agents.it;
});

afterAll(async () => {
  await agents?.close();
  await model?.close();
});

const triage = (triageAgent: string, to: string) => agents.triage(triageAgent, to);

async function auditOf(missionId: string) {
  return (await it_.running.audit.query({ missionId, kinds: ['agent.handoff', 'agent.verdict'] })).entries.map((e) => ({ kind: e.entry.kind, actor: e.entry.actor, ...e.entry.data }) as Record<string, any>);
}

describe('agents.handoff', () => {
  it('triage → resolution (runbook) → governance → utility; the resolution agent\'s mission waits for a person (ceiling approve)', async () => {
    const done = await triage('triage-bot', 'resolver');
    expect(done.outcome, JSON.stringify(done.escalation)).toBe('resolved');
    const out = done.steps.find((s) => s.stepId === 'handoff')!.result as any;
    expect(out).toMatchObject({ chain: ['triage-bot', 'resolver', 'governor', 'notifier'], proposal: { by: 'resolver', reasoner: 'builtin', fellBack: false, runbook: { name: 'ledger-undo' }, steps: ['ledger.append'] }, verdict: { by: 'governor', approved: true }, notified: ['notifier'] });
    const remediation = await it_.waitFor(out.missionId, (m) => m.waitingFor === 'approval' || m.outcome !== null);
    expect(remediation).toMatchObject({ requester: 'resolver', waitingFor: 'approval', labels: { agentChain: 'triage-bot>resolver>governor', chain: done.id } });
    expect(remediation.request).toMatchObject({ agent: 'resolver', requireApproval: true });
    const entries = await auditOf(done.id);
    expect(entries.map((e) => [e.kind, e.actor, e.outcome ?? e.approved])).toEqual([
      ['agent.handoff', 'triage-bot', 'accepted'], ['agent.handoff', 'resolver', 'accepted'], ['agent.verdict', 'governor', true], ['agent.handoff', 'governor', 'accepted'],
    ]);
  });

  it('an LLM resolution agent proposes through a local OpenAI-compatible endpoint; the plan is checked and runs as its mission', async () => {
    model.answer = () => JSON.stringify(SCRIPTED_PLAN);
    const done = await triage('triage-bot', 'llm-resolver');
    expect(done.outcome, JSON.stringify(done.escalation)).toBe('resolved');
    const out = done.steps.find((s) => s.stepId === 'handoff')!.result as any;
    expect(out.proposal).toMatchObject({ by: 'llm-resolver', reasoner: 'llm:local/qwen2.5-7b-instruct', fellBack: false, tokens: 908, runbook: null });
    const remediation = await it_.waitFor(out.missionId);
    expect(remediation).toMatchObject({ requester: 'llm-resolver', outcome: 'resolved' });
    // The alert's annotation reached the model only fenced as data; the key never reached the audit log.
    const prompt = model.requests.at(-1)!;
    expect(prompt).toContain('untrusted-data');
    expect(prompt).toContain('ignore previous instructions');
    const all = JSON.stringify((await it_.running.audit.query({ missionId: done.id })).entries);
    expect(all).toContain('model.output');
    expect(all).not.toContain('sk-test-never-in-the-audit');
  });

  it('falls back to the built-in reasoner when the model answers garbage, and says so', async () => {
    model.answer = () => 'I think you should restart everything. {not json';
    const done = await triage('triage-bot', 'llm-resolver');
    expect(done.outcome, JSON.stringify(done.escalation)).toBe('resolved');
    const out = done.steps.find((s) => s.stepId === 'handoff')!.result as any;
    expect(out.proposal).toMatchObject({ reasoner: 'builtin', fellBack: true, runbook: { name: 'ledger-undo' } });
    expect(out.proposal.fallbackReason).toMatch(/invalid_output/);
  });

  it('a breached bound escalates the triage mission, on the record', async () => {
    const done = await triage('shallow-triage', 'resolver');
    expect(done.outcome).toBe('escalated');
    expect(done.escalation?.reason).toMatch(/chain bound depth breached/);
    const entries = await auditOf(done.id);
    expect(entries.at(-1)).toMatchObject({ kind: 'agent.handoff', outcome: 'breach', bound: 'depth', from: 'resolver', to: 'governor' });
  });

  it('a hand-off the definitions do not allow is refused; a plan outside the proposer\'s tool set is refused by governance', async () => {
    const notAllowed = await triage('triage-bot', 'governor');
    expect(notAllowed.outcome).toBe('escalated');
    expect(notAllowed.escalation?.reason).toMatch(/may hand off only to resolver, llm-resolver/);
    const narrow = await triage('narrow-triage', 'narrow-resolver');
    expect(narrow.outcome).toBe('escalated');
    expect(narrow.escalation?.reason).toMatch(/governor refused narrow-resolver's plan: step 1 \(ledger.append\): not in narrow-resolver's tool set/);
    expect((await auditOf(narrow.id)).at(-1)).toMatchObject({ kind: 'agent.verdict', approved: false });
  });

  it('refuses to hand off for a mission no agent requested', async () => {
    const incidentId = await agents.incident();
    const { mission } = await it_.running.engine.create({ title: 'not an agent', steps: [{ id: 'diagnose', tool: 'test.diagnose' }, { id: 'handoff', tool: 'agents.handoff', args: { incidentId, to: 'resolver' } }] }, { name: 'test-admin', kind: 'human' });
    const done = await it_.waitFor(mission.id);
    expect(done.outcome).toBe('escalated');
    expect(done.escalation?.reason).toMatch(/only agents hand off/);
  });
});
