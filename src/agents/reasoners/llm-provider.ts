/**
 * LLM providers for agent reasoners: the `agents.llm` configuration, the `reasoner` spec of an agent
 * (`builtin` or `llm:<provider>/<model>`), and the AI SDK language model built from both. An
 * OpenAI-compatible endpoint covers Ollama, vLLM and llama.cpp; `anthropic` speaks the Messages API.
 * API keys are read from the environment variable a provider names, never from the configuration,
 * and are never logged or audited.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

/** A provider's name: letters, digits, `_` and `-`, starting with a letter or digit. */
const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** An environment variable's name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One LLM endpoint. See {@link LlmProvidersConfigSchema}. */
export const LlmProviderConfigSchema = z
  .strictObject({
    /** `openai-compatible` (OpenAI chat completions: Ollama, vLLM, llama.cpp, OpenAI) or `anthropic` (Messages API). */
    type: z.enum(['openai-compatible', 'anthropic']),
    /** The API base URL, up to and including the version segment: `http://127.0.0.1:11434/v1`, `https://api.anthropic.com/v1`. */
    baseUrl: z.url({ protocol: /^https?$/ }),
    /** Name of the environment variable holding the API key. The key itself is never in the configuration. Required for `anthropic`. */
    apiKeyEnv: z.string().regex(ENV_NAME, 'an environment variable name').optional(),
    /** Extra request headers (not secrets: put a key in `apiKeyEnv`). */
    headers: z.record(z.string(), z.string()).optional(),
    /** Longest a model call may take, ms, retries included. @default 60000 */
    timeoutMs: z.number().int().positive().max(600_000).default(60_000),
    /** Retries of a failed call (HTTP 429/5xx, network errors) by the AI SDK. @default 1 */
    maxRetries: z.number().int().min(0).max(5).default(1),
    /** USD per million input tokens, for cost accounting. */
    inputCostPerMTok: z.number().nonnegative().optional(),
    /** USD per million output tokens, for cost accounting. */
    outputCostPerMTok: z.number().nonnegative().optional(),
    /**
     * `openai-compatible` only: ask for the plan with `response_format: json_schema` (true) or
     * `json_object` (false, for servers that do not accept a schema). Either way the answer is
     * validated. @default true
     */
    structuredOutputs: z.boolean().default(true),
  })
  .superRefine((provider, ctx) => {
    if (provider.type === 'anthropic' && provider.apiKeyEnv === undefined) {
      ctx.addIssue({ code: 'custom', path: ['apiKeyEnv'], message: 'an anthropic provider needs apiKeyEnv, the name of the environment variable holding its API key' });
    }
  });

/** One provider's configuration after defaults. */
export type LlmProviderConfig = z.output<typeof LlmProviderConfigSchema>;

/**
 * The `agents.llm` configuration: the LLM endpoints agents may name in `reasoner: llm:<provider>/<model>`.
 *
 * ```yaml
 * agents:
 *   llm:
 *     providers:
 *       local: { type: openai-compatible, baseUrl: http://127.0.0.1:11434/v1 }
 * ```
 */
export const LlmProvidersConfigSchema = z.strictObject({
  providers: z.record(z.string().regex(PROVIDER_NAME, 'a provider name: letters, digits, _ and -'), LlmProviderConfigSchema).default({}),
});

/** The `agents.llm` configuration after defaults. */
export type LlmProvidersConfig = z.output<typeof LlmProvidersConfigSchema>;

/** An agent's reasoner: the built-in deterministic one, or a model of a configured provider. */
export type ReasonerSpec = { readonly kind: 'builtin' } | { readonly kind: 'llm'; readonly provider: string; readonly model: string };

/**
 * Parses an agent's `reasoner` setting: `builtin` → `{ kind: 'builtin' }`;
 * `llm:<provider>/<model>` → `{ kind: 'llm', provider, model }` (the model is everything after the
 * first `/`, so `llm:local/qwen2.5:7b` and `llm:router/meta/llama-3` work). With `config`, the
 * provider must be one of its providers.
 *
 * @param path Where the setting came from, for the error (e.g. `agents.triage.reasoner`).
 * @throws ConfigError `CONFIG_INVALID` when the spec is malformed, or names a provider that is not
 *   configured (the message lists the configured ones).
 */
export function parseReasonerSpec(spec: string, config?: LlmProvidersConfig, path = 'reasoner'): ReasonerSpec {
  const text = spec.trim();
  if (text === 'builtin') return { kind: 'builtin' };
  const fail = (message: string, expected: string): never => {
    throw new ConfigError('CONFIG_INVALID', `${path}: ${message}`, [{ path, message, expected, received: JSON.stringify(spec) }]);
  };
  if (!text.startsWith('llm:')) return fail(`"${spec}" is not a reasoner; use builtin or llm:<provider>/<model>`, 'builtin or llm:<provider>/<model>');
  const rest = text.slice('llm:'.length);
  const slash = rest.indexOf('/');
  const provider = slash === -1 ? rest : rest.slice(0, slash);
  const model = slash === -1 ? '' : rest.slice(slash + 1);
  if (!PROVIDER_NAME.test(provider) || model === '') return fail(`"${spec}" is not of the form llm:<provider>/<model>, e.g. llm:local/qwen2.5:7b`, 'llm:<provider>/<model>');
  if (config !== undefined && !Object.hasOwn(config.providers, provider)) {
    const names = Object.keys(config.providers);
    return fail(
      `"${spec}" names the LLM provider "${provider}", which is not configured; ${names.length === 0 ? 'no provider is configured under agents.llm.providers' : `configured providers: ${names.join(', ')}`}`,
      names.length === 0 ? 'a provider under agents.llm.providers' : `one of ${names.join(', ')}`,
    );
  }
  return { kind: 'llm', provider, model };
}

/** Model costs in USD per million tokens. */
export interface ModelCosts {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/** What {@link createProviderModel} returns: the model and the settings a reasoner needs. */
export interface ProviderModel {
  readonly model: LanguageModel;
  readonly provider: string;
  readonly modelId: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Present when the provider sets both `inputCostPerMTok` and `outputCostPerMTok`. */
  readonly costs?: ModelCosts;
}

/**
 * The AI SDK language model for `spec` (an `llm` reasoner spec) from `config`, with the API key read
 * from `env[apiKeyEnv]`. The key goes only into the provider's request headers.
 *
 * @param env The process environment (taken as a parameter: nothing but the config loader reads `process.env`).
 * @throws ConfigError `CONFIG_INVALID` when the provider is not configured, or its `apiKeyEnv`
 *   variable is unset or empty (the message names the variable, never a value).
 */
export function createProviderModel(spec: Extract<ReasonerSpec, { kind: 'llm' }>, config: LlmProvidersConfig, env: Readonly<Record<string, string | undefined>>): ProviderModel {
  parseReasonerSpec(`llm:${spec.provider}/${spec.model}`, config);
  const provider = config.providers[spec.provider] as LlmProviderConfig;
  let apiKey: string | undefined;
  if (provider.apiKeyEnv !== undefined) {
    apiKey = env[provider.apiKeyEnv];
    if (apiKey === undefined || apiKey === '') {
      const path = `agents.llm.providers.${spec.provider}.apiKeyEnv`;
      throw new ConfigError('CONFIG_INVALID', `${path}: the environment variable ${provider.apiKeyEnv} is not set; set it to the API key of provider "${spec.provider}"`, [
        { path, message: `environment variable ${provider.apiKeyEnv} is not set`, expected: 'the API key in the environment' },
      ]);
    }
  }
  const baseURL = provider.baseUrl.replace(/\/+$/, '');
  const model =
    provider.type === 'anthropic'
      ? createAnthropic({ baseURL, apiKey, headers: provider.headers })(spec.model)
      : createOpenAICompatible({ name: spec.provider, baseURL, apiKey, headers: provider.headers, supportsStructuredOutputs: provider.structuredOutputs })(spec.model);
  const costs = provider.inputCostPerMTok !== undefined && provider.outputCostPerMTok !== undefined ? { inputPerMTok: provider.inputCostPerMTok, outputPerMTok: provider.outputCostPerMTok } : undefined;
  return { model, provider: spec.provider, modelId: spec.model, timeoutMs: provider.timeoutMs, maxRetries: provider.maxRetries, ...(costs === undefined ? {} : { costs }) };
}
