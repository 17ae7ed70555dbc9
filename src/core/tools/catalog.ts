import { z } from 'zod';
import { InputError, InternalError, type Issue } from '../errors.js';
import { toIssues } from '../validation.js';
import type { AnyToolContract, RiskClass } from './tool.js';

/** A tool as the catalog describes it to clients: contract facts and JSON Schema 2020-12 schemas. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  readonly risk: AnyToolContract['risk'];
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly permission: string;
  readonly compensation: string | null;
  /** Labels to filter by; the connector (the name before the first dot) comes first. */
  readonly tags: string[];
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

  /**
   * Why tool `name` may not be called in a mission of `project` now, or undefined when it may: it is
   * offered to other projects only, or its provider says it is unavailable (held for review).
   */
  unavailableIn(name: string, project: string): string | undefined {
    const tool = this.#tools.get(name);
    if (tool === undefined) return `${name} is not in the catalog`;
    if (tool.projects !== undefined && !tool.projects.includes(project)) return `${name} is offered to project(s) ${tool.projects.join(', ')} only, not to ${project}`;
    return tool.unavailable?.();
  }

  /**
   * The tools a client of `project` may call, narrowed by `filter`: every tag listed must be one of
   * the tool's tags, and its risk class one of `risks` when given. Sorted by name.
   */
  offered(filter: CatalogFilter = {}): AnyToolContract[] {
    return this.list().filter((tool) =>
      (filter.project === undefined || this.unavailableIn(tool.name, filter.project) === undefined)
      && (filter.project !== undefined || tool.unavailable?.() === undefined)
      && (filter.risks === undefined || filter.risks.includes(tool.risk))
      && (filter.tags === undefined || filter.tags.every((tag) => tagsOf(tool).includes(tag))));
  }

  /** All tools, sorted by name. */
  list(): AnyToolContract[] {
    return [...this.#tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The public description of every tool (or of those `filter` offers, see {@link ToolCatalog.offered}),
   * with JSON Schema 2020-12 input and output schemas.
   */
  describe(filter?: CatalogFilter): ToolDescription[] {
    return (filter === undefined ? this.list() : this.offered(filter)).map((tool) => ({
      name: tool.name,
      description: tool.description,
      risk: tool.risk,
      idempotent: tool.idempotent,
      timeoutMs: tool.timeoutMs,
      permission: tool.permission,
      compensation: tool.compensation?.tool ?? null,
      tags: tagsOf(tool),
      inputSchema: tool.inputJsonSchema ?? (z.toJSONSchema(tool.input, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>),
      outputSchema: tool.outputJsonSchema ?? (z.toJSONSchema(tool.output, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>),
    }));
  }
}

/** What {@link ToolCatalog.offered} narrows the catalog by; each field left out does not narrow. */
export interface CatalogFilter {
  /** Only tools a mission of this project may call now. */
  readonly project?: string;
  /** Only tools carrying every one of these tags. */
  readonly tags?: readonly string[];
  /** Only tools of these risk classes. */
  readonly risks?: readonly RiskClass[];
}

/** A tool's tags: its connector (the name before the first dot) first, then its own, without repeats. */
export function tagsOf(tool: AnyToolContract): string[] {
  const connector = tool.name.split('.', 1)[0] ?? tool.name;
  return [...new Set([connector, ...(tool.tags ?? [])])];
}
