// Helpers of the connectors' tests: calling a tool as a plan step would, reading the responses
// recorded from the real Prometheus and Alertmanager, and catching the ConnectorError a call throws.
import { readFileSync } from 'node:fs';
import type { HttpApiResponse } from '../../src/connectors/shared/http-client.js';
import { ConnectorError } from '../../src/core/errors.js';
import type { ToolCatalog } from '../../src/core/tools/catalog.js';
import type { ToolContext } from '../../src/core/tools/tool.js';

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
