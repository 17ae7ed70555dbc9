// The estate demo's options and report, in a module of their own so the CLI's contract
// (src/cli/deps.ts) can name them without importing the demo (which uses the CLI's API client).
import type { InterlockConfig } from '../config/index.js';
import type { EstateFault } from '../estate/estate-layout.js';
import type { FaultTimeline } from '../estate/fault-timeline.js';

/** How the estate demo talks to the person running it. */
export interface EstateDemoOptions {
  /** The configuration from the command line: its `dataDir` (and `DATABASE_URL`, if set) are used. */
  readonly config: InterlockConfig;
  readonly out: (line: string) => void;
  /** Asks the person at the terminal to approve; absent when not interactive (a scripted second identity decides). */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** The faults to inject, in order. @default all five */
  readonly faults?: readonly EstateFault[];
  /** Leave the estate running at the end (`interlock estate down` stops it). @default false */
  readonly keepEstate?: boolean;
  /** Where to look for the estate's programs (a PATH). @default the usual system directories */
  readonly searchPath?: string;
  /**
   * The resolution agent's reasoner: `builtin` (the runbooks) or `scripted-llm` (the LLM path through
   * the AI SDK against a local scripted model that proposes the runbook's plan; src/estate/scripted-model.ts).
   * @default 'builtin'
   */
  readonly reasoner?: 'builtin' | 'scripted-llm';
}

/** One row of the closing table: one fault, from injection to its outcome. */
export interface EstateDemoRow extends FaultTimeline {
  /** What the demo expected (the runbook of the fault, resolved), and whether it happened. */
  readonly expected: string;
  readonly ok: boolean;
}

/** The demo's result: a row per fault, the audit check, and `missing` when prerequisites are not installed. */
export interface EstateDemoReport {
  readonly ok: boolean;
  readonly rows: readonly EstateDemoRow[];
  readonly audit: { readonly ok: true; readonly size: number; readonly checkpoints: number } | { readonly ok: false; readonly firstBadIndex: number; readonly reason: string } | null;
  /** The install command when a required program is missing (nothing was started). */
  readonly missing?: string;
}
