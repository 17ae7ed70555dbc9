import { readFileSync } from 'node:fs';

/** CPU use over an interval: this process (percent of one core) and the whole machine (percent of all cores). */
export interface CpuUse {
  /** User + system time of this process over wall time, in percent of one core (can exceed 100 with threads). */
  readonly processPercentOfOneCore: number;
  /** Busy time of all cores over their total time, percent; null where /proc/stat is missing (not Linux). */
  readonly machinePercent: number | null;
}

/** Busy and total jiffies of all cores from /proc/stat, or null when it cannot be read. */
function machineJiffies(): { busy: number; total: number } | null {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Starts measuring CPU use; the returned function ends the interval and reports it. */
export function startCpuMeter(): () => CpuUse {
  const wallStarted = performance.now();
  const processStarted = process.cpuUsage();
  const machineStarted = machineJiffies();
  return () => {
    const wallUs = (performance.now() - wallStarted) * 1000;
    const used = process.cpuUsage(processStarted);
    const machineEnded = machineJiffies();
    const machinePercent = machineStarted === null || machineEnded === null || machineEnded.total === machineStarted.total
      ? null
      : Math.round((100 * (machineEnded.busy - machineStarted.busy)) / (machineEnded.total - machineStarted.total));
    return { processPercentOfOneCore: Math.round((100 * (used.user + used.system)) / wallUs), machinePercent };
  };
}
