// Helpers of the connectors' tests: calling a tool as a plan step would, running a mission's steps
// against real systems as the engine does (call, verification, compensation), reading the responses
// recorded from the real Prometheus and Alertmanager, catching the ConnectorError a call throws, and
// the issues of a configuration loadConfig refuses.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { HttpApiResponse } from '../../src/connectors/shared/http-client.js';
import { ConfigError, ConnectorError } from '../../src/core/errors.js';
import type { ToolCatalog } from '../../src/core/tools/catalog.js';
import type { AnyToolContract, ToolContext, VerificationCheck } from '../../src/core/tools/tool.js';

/** The context of a first attempt at step `c1` of mission `m`, with a signal that is never aborted. */
export function toolContext(): ToolContext {
  return { idempotencyKey: 'm:c1', missionId: 'm', stepId: 'c1', attempt: 1, signal: new AbortController().signal };
}

/**
 * Validates `args` for `tool` as the catalog checks a plan's step (throwing the issues, as JSON, when
 * they are wrong) and executes the tool with the checked arguments and {@link toolContext}.
 */
export async function callTool(catalog: ToolCatalog, tool: string, args: unknown): Promise<any> {
  const checked = catalog.validateArgs(tool, args, 'context.0');
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return catalog.get(tool).execute(checked.args, toolContext());
}

/** Runs a connector's tools as the engine runs a mission's steps; see {@link toolRunner}. */
export interface ToolRunner {
  /**
   * The context of the first attempt at the next step, `s1`, `s2`, … (one counter per runner), with a
   * signal that is never aborted; its idempotency key is `key`, `<missionId>:<stepId>` by default.
   */
  readonly context: (key?: string) => ToolContext;
  /**
   * Validates `args` for `tool` as the catalog checks a plan's step (throwing the issues, as JSON, when
   * they are wrong) and executes the tool with the checked arguments in the next step's {@link context},
   * with idempotency key `key` (a new one by default).
   */
  readonly call: (tool: string, args: Record<string, unknown>, key?: string) => Promise<any>;
  /**
   * Runs the compensation of a call of `tool` with `args` that returned `result`, as the engine does: the
   * tool and arguments the contract's compensation names, executed unchecked in the next step's context.
   */
  readonly compensate: (tool: string, args: Record<string, unknown>, result: unknown) => Promise<any>;
  /**
   * Runs the verification of a call of `tool` with `args` that returned `result`, as the engine does:
   * checks every intervalMs (1 s by default) until it has passed for windowMs on end (0 by default), and
   * returns that passing check, or the last check once timeoutMs (60 s by default) has passed.
   */
  readonly verify: (tool: AnyToolContract, args: Record<string, unknown>, result: unknown) => Promise<VerificationCheck>;
}

/**
 * The {@link ToolRunner} of the tools of `catalog` (a function, so that a test can build the catalog
 * in its `beforeAll`) for mission `missionId`.
 */
export function toolRunner(catalog: () => ToolCatalog, missionId = 'm'): ToolRunner {
  let step = 0;
  const context = (key?: string): ToolContext => {
    step += 1;
    return { idempotencyKey: key ?? `${missionId}:s${step}`, missionId, stepId: `s${step}`, attempt: 1, signal: new AbortController().signal };
  };
  return {
    context,
    call: async (tool, args, key) => {
      const checked = catalog().validateArgs(tool, args, 'steps.0');
      if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
      return catalog().get(tool).execute(checked.args, context(key));
    },
    compensate: async (tool, args, result) => {
      const compensation = catalog().get(tool).compensation!;
      return catalog().get(compensation.tool).execute(compensation.args(args, result), context());
    },
    verify: async (tool, args, result) => {
      const probe = tool.verification!;
      const deadline = Date.now() + (probe.timeoutMs ?? 60_000);
      let since: number | undefined;
      for (;;) {
        const check = await probe.check({ tool: tool.name, args, idempotencyKey: `${missionId}:v` }, result, new AbortController().signal);
        if (!check.ok) since = undefined;
        else {
          since ??= Date.now();
          if (Date.now() - since >= (probe.windowMs ?? 0)) return check;
        }
        if (Date.now() > deadline) return check;
        await new Promise((resolve) => setTimeout(resolve, probe.intervalMs ?? 1000));
      }
    },
  };
}

/**
 * The issues `loadConfig` reports, each as `<path>: <message>` and sorted, for the configuration `yaml`
 * written as `interlock.yaml` in `dir` and loaded from there with no environment. Fails the test when
 * loading throws anything but a ConfigError, and throws when the configuration is accepted.
 */
export async function configIssuesOf(dir: string, yaml: string): Promise<string[]> {
  await writeFile(join(dir, 'interlock.yaml'), yaml);
  try {
    loadConfig({ env: {}, cwd: dir });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`).sort();
  }
  throw new Error('the configuration was accepted');
}

/**
 * A response recorded from the real Prometheus or Alertmanager, `test/fixtures/prometheus/<name>.json`
 * (test/fixtures/prometheus/README.md), as the connectors' HTTP client hands it on: the body parsed
 * when it is JSON, and its first 500 characters as text.
 */
export function recordedResponse(name: string): HttpApiResponse {
  const exchange = JSON.parse(readFileSync(new URL(`../fixtures/prometheus/${name}.json`, import.meta.url), 'utf8')) as { status: number; body: string };
  let json: unknown;
  try {
    json = JSON.parse(exchange.body);
  } catch {
    json = undefined;
  }
  return { status: exchange.status, json, text: exchange.body.slice(0, 500) };
}

/** The ConnectorError `fn` throws; throws when it returns, and rethrows any other error. */
export function connectorErrorOf(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}
