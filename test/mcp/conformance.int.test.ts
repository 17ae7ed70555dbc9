// The MCP conformance suite (@modelcontextprotocol/conformance 0.1.13, the last that runs on Node 20)
// against Interlock's /mcp. Scenarios that need the suite's own fixture tools, resources and prompts
// (test_simple_text, test://static-text, test_simple_prompt, ...) are listed in
// conformance-baseline.yml with their reason; every other scenario must pass, and a baseline entry
// that starts passing fails the run (the suite reports it stale). The suite sends no Authorization
// header, so it talks to Interlock through a loopback proxy that adds an API token.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startBearerProxy, type BearerProxy } from '../support/bearer-proxy.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const baselineFile = join(root, 'test/mcp/conformance-baseline.yml');

let it_: TestInterlock;
let proxy: BearerProxy;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-conformance-'));
  const config = join(dir, 'interlock.yaml');
  // Any port on loopback: the proxy's port is not known before Interlock starts.
  // The suite sends a few hundred requests in seconds: a burst the default rate limit (60) refuses.
  await writeFile(config, "mcp:\n  server:\n    allowedHosts: [\"127.0.0.1\"]\n    rateLimit: { capacity: 10000, refillPerSecond: 1000 }\n");
  it_ = await startTestInterlock('mcp_conformance', { env: { INTERLOCK_CONFIG: config } });
  const { token } = await createPrincipalWithToken(it_.running, { name: 'conformance-client', kind: 'agent', roles: { default: ['operator'] } });
  proxy = await startBearerProxy(it_.running.url, token);
});

afterAll(async () => {
  await proxy?.close();
  await it_?.close();
  if (dir !== undefined && process.env.KEEP_CONFORMANCE === undefined) await rm(dir, { recursive: true, force: true });
});

it('passes every conformance scenario of a feature Interlock implements; the baseline lists the rest with reasons', async () => {
  const output = join(dir, 'results');
  const bin = join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
  const result = await run(process.execPath, [bin, 'server', '--url', `${proxy.url}/mcp`, '--expected-failures', baselineFile, '-o', output], { timeout: 240_000 })
    .then(({ stdout }) => ({ code: 0, stdout }))
    .catch((error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '' }));
  expect(result.code, result.stdout).toBe(0);

  // Read the per-scenario results: which passed, and that the baseline holds only failing ones.
  const baseline = (parse(await readFile(baselineFile, 'utf8')) as { server: string[] }).server;
  const checks = new Map<string, Array<{ id: string; status: string; details?: unknown }>>();
  for (const entry of await readdir(output, { recursive: true })) {
    if (!entry.endsWith('checks.json')) continue;
    const scenario = entry.split('/').at(-2)!.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    checks.set(scenario, JSON.parse(await readFile(join(output, entry), 'utf8')) as Array<{ id: string; status: string }>);
  }
  const passed = [...checks].filter(([, list]) => list.every((c) => c.status === 'SUCCESS' || c.status === 'INFO')).map(([name]) => name);
  expect(passed).toEqual(expect.arrayContaining(['server-initialize', 'ping', 'tools-list', 'resources-list', 'prompts-list', 'dns-rebinding-protection', 'logging-set-level', 'completion-complete', 'server-sse-multiple-streams']));
  expect(checks.size).toBe(passed.length + baseline.length);
  for (const scenario of baseline) expect(passed, `${scenario} is in the baseline but passed`).not.toContain(scenario);

  // No false pass: tools-list saw Interlock's real catalog, not an empty list.
  const toolsList = checks.get('tools-list')!.find((c) => c.id === 'tools-list') as { details: { toolCount: number; tools: string[] } } | undefined;
  expect(toolsList?.details.toolCount).toBeGreaterThan(5);
  expect(toolsList?.details.tools).toContain('builtin.noop');
}, 300_000);
