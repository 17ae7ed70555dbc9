import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../../core/approvals/binding-hash.js';
import { MCP_TOOL_NAME } from './mcp-config.js';

/** Longest tool description kept from an external MCP server, characters (before the provenance label). */
export const MAX_MCP_DESCRIPTION_CHARS = 1000;

/**
 * The parts of an external MCP server's tool that the pin covers: what a client or an LLM reads
 * (name, description, annotations) and what shapes a call (input and output schema).
 */
export interface McpToolDefinition {
  readonly name: string;
  readonly description: string | null;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown> | null;
  readonly annotations: Record<string, unknown> | null;
}

/** The definition of `tool` as a server's `tools/list` gave it, with absent fields as null. */
export function definitionOf(tool: { name: string; description?: string | undefined; inputSchema: Record<string, unknown>; outputSchema?: Record<string, unknown> | undefined; annotations?: Record<string, unknown> | undefined }): McpToolDefinition {
  return {
    name: tool.name,
    description: tool.description ?? null,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema ?? null,
    annotations: tool.annotations ?? null,
  };
}

/**
 * The pin of a tool definition: SHA-256 (lowercase hex) of its RFC 8785 canonical JSON, so the same
 * definition always has the same digest whatever the key order the server sends.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function definitionDigest(definition: McpToolDefinition): string {
  return createHash('sha256').update(canonicalJson(definition), 'utf8').digest('hex');
}

/**
 * Why a tool name of an external MCP server cannot be imported, or undefined when it can: names are
 * letters, digits, `_` and `-` (1..64), so none can look like another namespace (`supervisor.restart`)
 * or a path (`../echo`).
 */
export function refusedName(name: string): string | undefined {
  if (MCP_TOOL_NAME.test(name)) return undefined;
  return `its name ${JSON.stringify(name.slice(0, 100))} is not 1 to 64 letters, digits, "_" or "-" (a dot, slash or space could pass for another namespace)`;
}

/**
 * A description from an external MCP server as the catalog shows it: control and invisible formatting
 * characters removed, whitespace runs folded, cut to {@link MAX_MCP_DESCRIPTION_CHARS}, and labelled
 * with its provenance, so a reader and an LLM see it is the server's unreviewed words, not Interlock's.
 */
export function labelledDescription(server: string, description: string | null): string {
  const text = (description ?? '')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = [...text].length > MAX_MCP_DESCRIPTION_CHARS ? `${[...text].slice(0, MAX_MCP_DESCRIPTION_CHARS - 1).join('')}…` : text;
  return `[external MCP server "${server}", unreviewed text] ${cut === '' ? '(no description)' : cut}`;
}

/**
 * The Zod schema that validates a call's arguments against the server's JSON Schema. Undefined when
 * the schema cannot be read (the tool is then refused: arguments that cannot be checked are not sent).
 */
export function argumentsSchema(inputSchema: Record<string, unknown>): z.ZodType<Record<string, unknown>> | undefined {
  if (inputSchema.type !== 'object') return undefined;
  try {
    return z.fromJSONSchema(inputSchema) as z.ZodType<Record<string, unknown>>;
  } catch {
    return undefined;
  }
}

/** What every tool of an external MCP server returns: the server's `CallToolResult`, as received. */
export const McpCallResultSchema = z.object({
  content: z.array(z.unknown()).describe('The content blocks of the result (text, image, resource links…).'),
  structuredContent: z.unknown().optional().describe('The structured result, when the tool has an output schema.'),
  isError: z.boolean().describe('Always false here: a result the server marks as an error fails the call.'),
});

/** See {@link McpCallResultSchema}. */
export type McpCallResult = z.output<typeof McpCallResultSchema>;

/**
 * A short, human-readable account of how `after` differs from `before`, one line per changed field
 * (at most 10), for the audit entry and the review.
 */
export function definitionDiff(before: McpToolDefinition | null, after: McpToolDefinition): string[] {
  if (before === null) return ['new tool'];
  const lines: string[] = [];
  for (const key of ['description', 'inputSchema', 'outputSchema', 'annotations'] as const) {
    const a = canonicalJson(before[key]);
    const b = canonicalJson(after[key]);
    if (a !== b) lines.push(`${key}: ${clip(a)} -> ${clip(b)}`);
  }
  return lines.length === 0 ? ['no visible change'] : lines;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
