import { z } from 'zod';
import { InputError, InternalError, type Issue } from '../errors.js';
import { toIssues } from '../validation.js';
import type { AnyToolContract } from './tool.js';

/** A tool as the catalog describes it to clients: contract facts and JSON Schema 2020-12 schemas. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  readonly risk: AnyToolContract['risk'];
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly permission: string;
  readonly compensation: string | null;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown>;
}

/**
 * The tool catalog: every tool the engine may call, by name. Unknown tools and arguments that
 * violate a tool's input schema are refused here, before any I/O, naming every violation.
 */
export class ToolCatalog {
  readonly #tools = new Map<string, AnyToolContract>();

  constructor(tools: Iterable<AnyToolContract> = []) {
    for (const tool of tools) this.register(tool);
  }

  /**
   * Adds a tool. Throws `INTERNAL` when the name is taken or the compensation names a tool that is
   * not registered by the time {@link ToolCatalog.check} runs.
   */
  register(tool: AnyToolContract): void {
    if (this.#tools.has(tool.name)) throw new InternalError(`Tool ${tool.name} is registered twice; tool names must be unique.`);
    this.#tools.set(tool.name, tool);
  }

  /** Checks cross-references: every compensation names a registered tool. Throws `INTERNAL` otherwise. */
  check(): void {
    for (const tool of this.#tools.values()) {
      if (tool.compensation !== undefined && !this.#tools.has(tool.compensation.tool)) {
        throw new InternalError(`Tool ${tool.name} names compensation tool ${tool.compensation.tool}, which is not registered.`);
      }
    }
  }

  /** The tool named `name`, or undefined. */
  find(name: string): AnyToolContract | undefined {
    return this.#tools.get(name);
  }

  /** The tool named `name`. Throws `TOOL_UNKNOWN` (an {@link InputError}) when there is none. */
  get(name: string, path = 'tool'): AnyToolContract {
    const tool = this.#tools.get(name);
    if (tool === undefined) {
      throw new InputError('TOOL_UNKNOWN', `Unknown tool "${name}"; list the catalog with GET /v1/tools.`, [
        { path, message: 'unknown tool', expected: 'a tool in the catalog', received: JSON.stringify(name) },
      ]);
    }
    return tool;
  }

  /**
   * Validates `args` against the input schema of tool `name` and returns the parsed arguments.
   * Returns the issues instead of throwing, so a plan with several bad steps can name them all.
   */
  validateArgs(name: string, args: unknown, path: string): { ok: true; args: unknown } | { ok: false; issues: Issue[] } {
    const tool = this.#tools.get(name);
    if (tool === undefined) {
      return { ok: false, issues: [{ path: `${path}.tool`, message: 'unknown tool', expected: 'a tool in the catalog', received: JSON.stringify(name) }] };
    }
    const parsed = tool.input.safeParse(args);
    return parsed.success ? { ok: true, args: parsed.data } : { ok: false, issues: toIssues(parsed.error, `${path}.args`) };
  }

  /** All tools, sorted by name. */
  list(): AnyToolContract[] {
    return [...this.#tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The public description of every tool, with JSON Schema 2020-12 input and output schemas. */
  describe(): ToolDescription[] {
    return this.list().map((tool) => ({
      name: tool.name,
      description: tool.description,
      risk: tool.risk,
      idempotent: tool.idempotent,
      timeoutMs: tool.timeoutMs,
      permission: tool.permission,
      compensation: tool.compensation?.tool ?? null,
      inputSchema: z.toJSONSchema(tool.input, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>,
      outputSchema: z.toJSONSchema(tool.output, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>,
    }));
  }
}
