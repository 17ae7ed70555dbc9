import { readFile } from 'node:fs/promises';

/** True while process `pid` exists (signal 0 probes it without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Memory of a process from /proc/<pid>/status, KiB. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  readonly rssKiB: number;
  /** Peak resident set size so far (`VmHWM`). */
  readonly peakRssKiB: number;
}

/** Reads `VmRSS` and `VmHWM` of `pid` (Linux). Throws when the process is gone or /proc is missing. */
export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rssKiB: field('VmRSS'), peakRssKiB: field('VmHWM') };
}
