/**
 * Host CPU idle time over an interval, as will-it-scale's runtest.py measures it for its
 * `processes_idle` and `threads_idle` columns: from the aggregate `cpu` line of /proc/stat, idle and
 * iowait over all ticks. Where /proc/stat cannot be read, from os.cpus() times.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
}

export function cpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (line) {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0, guest = 0, guestNice = 0] = f;
      return { busy: user + nice + system + irq + softirq + steal + guest + guestNice, idle: idle + iowait };
    }
  } catch {
    // not Linux: fall through
  }
  let busy = 0;
  let idle = 0;
  for (const c of cpus()) {
    busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
    idle += c.times.idle;
  }
  return { busy, idle };
}

/** Idle percentage of the host between two samples (0 when no time passed). */
export function idlePercent(before: CpuTimes, after: CpuTimes): number {
  const busy = after.busy - before.busy;
  const idle = after.idle - before.idle;
  return busy + idle > 0 ? (100 * idle) / (busy + idle) : 0;
}
