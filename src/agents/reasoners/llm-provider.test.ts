import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { createProviderModel, LlmProvidersConfigSchema, parseReasonerSpec } from './llm-provider.js';

const CONFIG = LlmProvidersConfigSchema.parse({
  providers: {
    local: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1' },
    claude: { type: 'anthropic', baseUrl: 'https://api.anthropic.com/v1', apiKeyEnv: 'ANTHROPIC_API_KEY', inputCostPerMTok: 3, outputCostPerMTok: 15 },
  },
});

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseReasonerSpec', () => {
  it('parses builtin and llm:<provider>/<model>, keeping / and : inside the model', () => {
    expect(parseReasonerSpec('builtin')).toEqual({ kind: 'builtin' });
    expect(parseReasonerSpec('llm:local/qwen2.5-7b', CONFIG)).toEqual({ kind: 'llm', provider: 'local', model: 'qwen2.5-7b' });
    expect(parseReasonerSpec('llm:local/qwen2.5:7b', CONFIG)).toEqual({ kind: 'llm', provider: 'local', model: 'qwen2.5:7b' });
    expect(parseReasonerSpec('llm:local/meta-llama/Llama-3.1-8B', CONFIG)).toEqual({ kind: 'llm', provider: 'local', model: 'meta-llama/Llama-3.1-8B' });
  });

  it('names the configured providers when the spec names another', () => {
    const error = configError(() => parseReasonerSpec('llm:openai/gpt-4o', CONFIG, 'agents.triage.reasoner'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('agents.triage.reasoner');
    expect(error.message).toContain('"openai"');
    expect(error.message).toContain('configured providers: local, claude');
    expect(error.issues[0]).toMatchObject({ path: 'agents.triage.reasoner', expected: 'one of local, claude' });
  });

  it('says when no provider is configured', () => {
    expect(configError(() => parseReasonerSpec('llm:local/m', LlmProvidersConfigSchema.parse({}))).message).toContain('no provider is configured under agents.llm.providers');
  });

  it.each(['gpt-4o', 'llm:', 'llm:local', 'llm:local/', 'llm:/model', 'LLM:local/m', 'builtin2'])('refuses the malformed spec %j', (spec) => {
    expect(configError(() => parseReasonerSpec(spec, CONFIG)).message).toMatch(/builtin or llm:<provider>\/<model>|llm:<provider>\/<model>/);
  });
});

describe('LlmProvidersConfigSchema', () => {
  it('fills the defaults', () => {
    expect(CONFIG.providers.local).toEqual({ type: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1', timeoutMs: 60_000, maxRetries: 1, structuredOutputs: true });
  });

  it('refuses an anthropic provider without apiKeyEnv, a bad URL, an unknown key and an API key in the config', () => {
    const parsed = LlmProvidersConfigSchema.safeParse({
      providers: {
        a: { type: 'anthropic', baseUrl: 'https://api.anthropic.com/v1' },
        b: { type: 'openai-compatible', baseUrl: 'not a url' },
        c: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', apiKey: 'sk-123' },
      },
    });
    expect(parsed.success).toBe(false);
    const paths = parsed.error?.issues.map((issue) => issue.path.join('.')) ?? [];
    expect(paths).toEqual(expect.arrayContaining(['providers.a.apiKeyEnv', 'providers.b.baseUrl', 'providers.c']));
  });
});

describe('createProviderModel', () => {
  it('builds a model with the provider settings and costs', () => {
    const built = createProviderModel({ kind: 'llm', provider: 'claude', model: 'claude-sonnet-4-5' }, CONFIG, { ANTHROPIC_API_KEY: 'k' });
    expect(built).toMatchObject({ provider: 'claude', modelId: 'claude-sonnet-4-5', timeoutMs: 60_000, maxRetries: 1, costs: { inputPerMTok: 3, outputPerMTok: 15 } });
    expect(createProviderModel({ kind: 'llm', provider: 'local', model: 'qwen2.5:7b' }, CONFIG, {}).costs).toBeUndefined();
  });

  it('names the unset API key variable, never a value', () => {
    const error = configError(() => createProviderModel({ kind: 'llm', provider: 'claude', model: 'claude-sonnet-4-5' }, CONFIG, { OTHER: 'x' }));
    expect(error.message).toContain('ANTHROPIC_API_KEY is not set');
    expect(error.issues[0]?.path).toBe('agents.llm.providers.claude.apiKeyEnv');
  });
});
