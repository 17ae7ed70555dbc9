// A scripted language model for the reference estate: an OpenAI-compatible chat-completions endpoint
// on 127.0.0.1 that answers a resolution agent's task the way a well-behaved model would, by
// proposing the plan of the estate's runbook for the top hypothesis it reads in the prompt. It lets
// `interlock demo --reasoner scripted-llm` run the estate's incidents through the LLM path for real
// (the AI SDK provider, the HTTP round trip, the fenced prompt, structured-output parsing, validation
// against the tool set and schemas, the governance verdict, token accounting) without a model.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HYPOTHESIS_KINDS } from '../core/diagnosis/hypothesis.js';
import { renderRunbook, selectRunbook, type MatchedHypothesis, type Runbook } from '../core/runbooks/runbook.js';

/** The model ID the estate's scripted resolution agent names: `llm:scripted/<this>`. */
export const SCRIPTED_MODEL_ID = 'estate-runbook-script';

/** A running scripted model: its base URL (for `agents.llm.providers`), what it answered, and how to stop it. */
export interface ScriptedEstateModel {
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string;
  /** Calls answered: the top hypothesis read, the runbook whose plan was proposed (or null), the tokens reported. */
  readonly calls: Array<{ readonly hypothesis: string | null; readonly runbook: string | null; readonly totalTokens: number }>;
  close(): Promise<void>;
}

/**
 * The top hypothesis of a plan prompt (`1. <kind> on <service>, confidence <c>: <summary>`, as
 * `buildPlanPrompt` writes it) and the incident ID, or undefined when the prompt has none.
 */
export function readTask(prompt: string): { incidentId: string; hypothesis: MatchedHypothesis } | undefined {
  const incident = /Incident ([0-9a-f-]{36})/.exec(prompt);
  const top = /\n1\. ([a-z_]+) on ([A-Za-z0-9._-]+), confidence ([0-9.]+): ([^\n]*)/.exec(prompt);
  if (incident === null || top === null || !(HYPOTHESIS_KINDS as readonly string[]).includes(top[1]!)) return undefined;
  return { incidentId: incident[1]!, hypothesis: { kind: top[1] as MatchedHypothesis['kind'], service: top[2]!, confidence: Number(top[3]), summary: top[4]! } };
}

/**
 * The scripted answer to `prompt`: the plan of the runbook for its top hypothesis, as the plan JSON a
 * model returns, and that runbook's name; `{}` (which the reasoner rejects, so the built-in reasoner
 * proposes instead) when no runbook fits.
 */
export function scriptedAnswer(prompt: string, runbooks: readonly Runbook[], vars: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>): { content: string; runbook: string | null; hypothesis: string | null } {
  const task = readTask(prompt);
  if (task === undefined) return { content: '{}', runbook: null, hypothesis: null };
  const described = `${task.hypothesis.kind} on ${task.hypothesis.service}`;
  const { runbook } = selectRunbook(runbooks, task.hypothesis);
  if (runbook === undefined) return { content: '{}', runbook: null, hypothesis: described };
  try {
    const request = renderRunbook(runbook, { incident: task.incidentId, service: task.hypothesis.service!, tier: null, hypothesis: task.hypothesis, vars: vars[task.hypothesis.service!] ?? {} });
    const plan = {
      title: request.title,
      hypothesis: task.hypothesis.summary.slice(0, 500) || described,
      confidence: Math.min(1, Math.max(0, task.hypothesis.confidence)),
      rationale: `The evidence points to ${described}; the change that addresses it, with a verification that re-observes the service.`,
      steps: (request.steps ?? []).map((step) => ({ tool: step.tool, args: step.args ?? {} })),
      verify: (request.verify ?? []).map((check) => ({ tool: check.tool, args: check.args ?? {}, ...(check.windowMs === undefined ? {} : { windowMs: check.windowMs }), ...(check.timeoutMs === undefined ? {} : { timeoutMs: check.timeoutMs }) })),
    };
    return { content: JSON.stringify(plan), runbook: runbook.metadata.name, hypothesis: described };
  } catch {
    return { content: '{}', runbook: null, hypothesis: described };
  }
}

/** Starts the scripted model on 127.0.0.1 (a free port); it answers `POST /v1/chat/completions`. */
export async function startScriptedEstateModel(runbooks: readonly Runbook[], vars: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>): Promise<ScriptedEstateModel> {
  const calls: ScriptedEstateModel['calls'] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    request.on('end', () => {
      if (request.method !== 'POST' || !(request.url ?? '').endsWith('/chat/completions')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      let prompt = '';
      try {
        const messages = (JSON.parse(body) as { messages?: Array<{ content?: unknown }> }).messages ?? [];
        prompt = messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"the body is not JSON"}}');
        return;
      }
      const answer = scriptedAnswer(prompt, runbooks, vars);
      // Usage as a real endpoint reports it; a tokenizer is not needed for the demo: 4 characters a token.
      const promptTokens = Math.ceil(prompt.length / 4);
      const completionTokens = Math.ceil(answer.content.length / 4);
      calls.push({ hypothesis: answer.hypothesis, runbook: answer.runbook, totalTokens: promptTokens + completionTokens });
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: `chatcmpl-scripted-${calls.length}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: SCRIPTED_MODEL_ID,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
