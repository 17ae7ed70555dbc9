// The LLM reasoner against real HTTP endpoints on loopback, through the AI SDK providers: an
// OpenAI-compatible server (the wire format of Ollama, vLLM, llama.cpp) and an Anthropic Messages API
// server. Hosted models cannot run here, so the servers answer with the response bodies under
// test/fixtures/llm/ (see its README); everything between the reasoner and the socket is real.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmReasoner, type PlanTask } from '../../src/agents/reasoners/llm-reasoner.js';
import { createProviderModel, LlmProvidersConfigSchema, parseReasonerSpec } from '../../src/agents/reasoners/llm-provider.js';
import { encodeEntry, type AuditEntry } from '../../src/core/audit/entry.js';

const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`../fixtures/llm/${name}`, import.meta.url), 'utf8'));
const OPENAI_BODY = fixture('openai-chat-completion.json');
const ANTHROPIC_BODY = fixture('anthropic-messages.json');

const OPENAI_KEY = 'sk-local-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4';
const ANTHROPIC_KEY = 'sk-ant-api03-Zq8vN2pL4xR6tY1wK3mB5cJ7hG9dF0sA';

const TASK: PlanTask = {
  agent: { name: 'agent:resolver', role: 'resolution', instructions: 'Restore service with the smallest change.' },
  incident: { id: 'inc_01', title: 'CheckoutHighErrorRate', labels: { alertname: 'CheckoutHighErrorRate', service: 'checkout' }, annotations: { summary: 'checkout 5xx ratio above 5%' } },
  hypotheses: [{ kind: 'process-crashed', service: 'checkout', confidence: 0.8, summary: 'checkout EXITED at 03:12' }],
  evidence: [{ source: 'supervisor.status', text: 'checkout EXITED Jan 01 03:12 AM' }],
  tools: [
    { name: 'supervisor.restart', description: 'Restart one program.', risk: 'write-low', inputSchema: { type: 'object', properties: { program: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' } }, required: ['program'], additionalProperties: false } },
    { name: 'prometheus.query', description: 'Evaluate a PromQL instant query.', risk: 'read', inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'], additionalProperties: false } },
  ],
};

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

let server: Server;
let baseUrl: string;
const requests: Recorded[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text === '' ? undefined : JSON.parse(text) });
      const body = req.method === 'POST' && req.url === '/v1/chat/completions' ? OPENAI_BODY : req.method === 'POST' && req.url === '/v1/messages' ? ANTHROPIC_BODY : undefined;
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: { message: 'not found' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error === undefined ? resolve() : reject(error))));
});

function config() {
  return LlmProvidersConfigSchema.parse({
    providers: {
      local: { type: 'openai-compatible', baseUrl, apiKeyEnv: 'LOCAL_LLM_KEY', inputCostPerMTok: 0.2, outputCostPerMTok: 0.6 },
      claude: { type: 'anthropic', baseUrl, apiKeyEnv: 'ANTHROPIC_API_KEY', inputCostPerMTok: 3, outputCostPerMTok: 15 },
    },
  });
}

async function plan(spec: string) {
  const cfg = config();
  const parsed = parseReasonerSpec(spec, cfg);
  if (parsed.kind !== 'llm') throw new Error('expected an llm spec');
  const built = createProviderModel(parsed, cfg, { LOCAL_LLM_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY });
  const entries: AuditEntry[] = [];
  const reasoner = createLlmReasoner({ ...built, audit: (entry) => Promise.resolve(void entries.push(entry)) });
  const before = requests.length;
  const result = await reasoner.proposePlan(TASK, { missionId: 'msn_7' });
  return { result, entries, sent: requests.slice(before) };
}

describe('LLM reasoner over HTTP', () => {
  it('plans through an OpenAI-compatible endpoint, with the recorded token usage and the key only in the Authorization header', async () => {
    const { result, entries, sent } = await plan('llm:local/qwen2.5:7b');

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual(JSON.parse(OPENAI_BODY.choices[0].message.content));
    const { prompt_tokens, completion_tokens, total_tokens } = OPENAI_BODY.usage;
    expect(result.usage).toEqual({ inputTokens: prompt_tokens, outputTokens: completion_tokens, totalTokens: total_tokens, costUsd: (prompt_tokens * 0.2 + completion_tokens * 0.6) / 1e6, estimated: false });
    expect(result.model).toEqual({ provider: 'local', id: 'qwen2.5:7b' });

    expect(sent).toHaveLength(1);
    const request = sent[0] as Recorded;
    expect(request.url).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(request.body).toMatchObject({ model: 'qwen2.5:7b', response_format: { type: 'json_schema', json_schema: { name: 'plan' } } });
    expect(request.body.messages[0]).toMatchObject({ role: 'system' });
    expect(JSON.stringify(request.body)).not.toContain(OPENAI_KEY);

    expect(entries.map((e) => e.kind)).toEqual(['model.prompt', 'model.output']);
    for (const entry of entries) {
      const stored = new TextDecoder().decode(encodeEntry(entry));
      expect(stored).not.toContain(OPENAI_KEY);
      expect(JSON.stringify(entry)).not.toContain(OPENAI_KEY);
    }
    expect(entries[1]?.data).toMatchObject({ outcome: 'accepted', usage: result.usage, rawText: OPENAI_BODY.choices[0].message.content });
  });

  it('plans through an Anthropic Messages endpoint, with the recorded token usage and the key in x-api-key', async () => {
    const { result, entries, sent } = await plan('llm:claude/claude-sonnet-4-5-20250929');

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual(ANTHROPIC_BODY.content[0].input);
    const { input_tokens, output_tokens } = ANTHROPIC_BODY.usage;
    expect(result.usage).toEqual({ inputTokens: input_tokens, outputTokens: output_tokens, totalTokens: input_tokens + output_tokens, costUsd: (input_tokens * 3 + output_tokens * 15) / 1e6, estimated: false });

    expect(sent).toHaveLength(1);
    const request = sent[0] as Recorded;
    expect(request.url).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    // The AI SDK asks for the plan through one forced tool, `json`, whose input schema is the plan's.
    expect(request.body).toMatchObject({ model: 'claude-sonnet-4-5-20250929', tool_choice: { type: 'any' }, tools: [{ name: 'json', input_schema: { required: expect.arrayContaining(['title', 'steps']) } }] });
    expect(typeof request.body.system === 'string' ? request.body.system : JSON.stringify(request.body.system)).toContain('PROPOSE a plan');
    for (const entry of entries) expect(new TextDecoder().decode(encodeEntry(entry))).not.toContain(ANTHROPIC_KEY);
  });

  it('reports an endpoint that answers 404 as model_error', async () => {
    const cfg = LlmProvidersConfigSchema.parse({ providers: { wrong: { type: 'openai-compatible', baseUrl: `${baseUrl}/missing`, maxRetries: 0 } } });
    const built = createProviderModel({ kind: 'llm', provider: 'wrong', model: 'm' }, cfg, {});
    const result = await createLlmReasoner(built).proposePlan(TASK);
    expect(result).toMatchObject({ ok: false, reason: 'model_error', usage: { totalTokens: 0 } });
  });
});
