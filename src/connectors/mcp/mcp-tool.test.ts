import { describe, expect, it } from 'vitest';
import { ExternalMcpServersConfigSchema } from './mcp-config.js';
import { definitionDiff, definitionDigest, labelledDescription, refusedName } from './mcp-tool.js';

describe('definitionDigest', () => {
  it('is the same for the same definition whatever the key order, and changes with any field', () => {
    const a = { name: 'echo', description: 'd', inputSchema: { type: 'object', properties: { m: { type: 'string' } } }, outputSchema: null, annotations: { readOnlyHint: true } };
    const b = { annotations: { readOnlyHint: true }, outputSchema: null, inputSchema: { properties: { m: { type: 'string' } }, type: 'object' }, description: 'd', name: 'echo' };
    expect(definitionDigest(a)).toBe(definitionDigest(b));
    expect(definitionDigest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionDigest({ ...a, annotations: { readOnlyHint: false } })).not.toBe(definitionDigest(a));
    expect(definitionDiff(a, { ...a, description: 'e' })).toEqual(['description: "d" -> "e"']);
  });
});

describe('refusedName', () => {
  it.each(['supervisor.restart', '../echo', 'a b', '', 'x'.repeat(65), 'échо'])('refuses %j', (name) => {
    expect(refusedName(name)).toBeDefined();
  });
  it.each(['echo', 'get-sum', 'read_file', 'A1'])('accepts %j', (name) => {
    expect(refusedName(name)).toBeUndefined();
  });
});

describe('labelledDescription', () => {
  it('labels, strips control and bidi characters, and cuts to 1000 characters', () => {
    expect(labelledDescription('s', 'a\u0007b\u202e\nc')).toBe('[external MCP server "s", unreviewed text] a b c');
    expect(labelledDescription('s', null)).toBe('[external MCP server "s", unreviewed text] (no description)');
    const long = labelledDescription('s', 'x'.repeat(5000));
    expect(long.length).toBe('[external MCP server "s", unreviewed text] '.length + 1000);
  });
});

describe('mcp.servers configuration', () => {
  it('fills defaults and refuses built-in connector names and duplicates', () => {
    const [server] = ExternalMcpServersConfigSchema.parse([{ name: 'tools', transport: 'stdio', command: 'x' }]);
    expect(server).toMatchObject({ enabled: true, projects: ['default'], timeoutMs: 30_000, maxResultBytes: 262_144, healthCheckIntervalMs: 30_000, breaker: { failures: 5, cooldownMs: 30_000 }, tools: {} });
    expect(ExternalMcpServersConfigSchema.safeParse([{ name: 'supervisor', transport: 'stdio', command: 'x' }]).success).toBe(false);
    expect(ExternalMcpServersConfigSchema.safeParse([{ name: 'a', transport: 'stdio', command: 'x' }, { name: 'a', transport: 'http', url: 'http://127.0.0.1/mcp' }]).success).toBe(false);
    expect(ExternalMcpServersConfigSchema.safeParse([{ name: 'a', transport: 'http', url: 'http://u:p@127.0.0.1/mcp' }]).success).toBe(false);
  });
});
