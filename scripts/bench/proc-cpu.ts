/**
 * CPU time of processes from /proc (Linux): what each process of a benchmark spent, so a figure per
 * turn can be given for each (gateway, workers, Redis, Postgres, simulator, load generator).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime, stime, cutime, cstime and ppid of `pid` (fields 14-17 and 4 of /proc/<pid>/stat). */
function stat(pid: number): { ticks: number; childTicks: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (stat(Number(entry))?.ppid === pid) out.push(Number(entry));
  }
  return out;
}

/**
 * CPU milliseconds `pid` has used. With `tree`, its children's too: the live ones, and the exited
 * ones it reaped (Postgres backends come and go under the postmaster).
 */
export function cpuMs(pid: number, tree = false): number {
  const own = stat(pid);
  if (!own) return 0;
  let ticks = own.ticks;
  if (tree) {
    ticks += own.childTicks;
    for (const child of childrenOf(pid)) ticks += cpuMs(child, true) * (TICKS_PER_SECOND / 1000);
  }
  return (ticks / TICKS_PER_SECOND) * 1000;
}

/** A process to meter: `pid` with its children when `tree`, or this process (`pid: 'self'`). */
export interface Metered {
  name: string;
  pid: number | 'self';
  tree?: boolean;
}

function readMs(p: Metered): number {
  if (p.pid !== 'self') return cpuMs(p.pid, p.tree);
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Meters the CPU of some processes from `start()` on; `read()` gives each one's milliseconds since. */
export function cpuMeter(processes: Metered[]) {
  let base = new Map<string, number>();
  return {
    start() {
      base = new Map(processes.map((p) => [p.name, readMs(p)]));
    },
    read(): Map<string, number> {
      return new Map(processes.map((p) => [p.name, readMs(p) - (base.get(p.name) ?? 0)]));
    },
  };
}
