/**
 * pnpm bench:footprint: runs `pnpm bench:pipeline` (arguments after `--` go to it) and samples the
 * memory and CPU of its worker and gateway processes from /proc every 250 ms: what a container of
 * each needs, for the Kubernetes requests and limits (infra/k8s/base). Linux only. CPU figures
 * share the machine with the load generator, Redis, Postgres and the simulator, and with whatever
 * else runs: read them as an upper bound of a busy worker on a small machine, not a benchmark.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROLES = { worker: 'packages/worker/src/main.ts', gateway: 'packages/gateway/src/main.ts' } as const;
type Role = keyof typeof ROLES;
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const INTERVAL_MS = 250;

interface Sample {
  rssMiB: number;
  peakMiB: number;
  ticks: number;
}

function read(pid: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return {
      rssMiB: kib('VmRSS') / 1024,
      peakMiB: kib('VmHWM') / 1024,
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined;
  }
}

function fleetProcesses(): { pid: number; role: Role }[] {
  const found: { pid: number; role: Role }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      for (const [role, script] of Object.entries(ROLES)) {
        if (cmdline.includes(script)) found.push({ pid: Number(entry), role: role as Role });
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

const last = new Map<number, { ticks: number; at: number }>();
const stats: Record<Role, { rss: number[]; peak: number; cores: number[] }> = {
  worker: { rss: [], peak: 0, cores: [] },
  gateway: { rss: [], peak: 0, cores: [] },
};
const before = new Set(fleetProcesses().map((p) => p.pid));
const timer = setInterval(() => {
  const now = performance.now();
  for (const { pid, role } of fleetProcesses()) {
    if (before.has(pid)) continue;
    const s = read(pid);
    if (!s) continue;
    const prev = last.get(pid);
    last.set(pid, { ticks: s.ticks, at: now });
    stats[role].rss.push(s.rssMiB);
    stats[role].peak = Math.max(stats[role].peak, s.peakMiB);
    if (prev) stats[role].cores.push((s.ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000));
  }
}, INTERVAL_MS);

const args = process.argv.slice(2).filter((a) => a !== '--');
const bench = spawn(process.execPath, [fileURLToPath(new URL('./pipeline.ts', import.meta.url)), ...args], {
  stdio: 'inherit',
});
bench.on('exit', (code) => {
  clearInterval(timer);
  process.stdout.write('\nper process, sampled every 250 ms while bench:pipeline ran:\n');
  for (const [role, s] of Object.entries(stats)) {
    const busy = s.cores.filter((c) => c > 0.05);
    process.stdout.write(
      `  ${role.padEnd(8)} RSS p50 ${quantile(s.rss, 0.5).toFixed(0)} MiB, peak ${s.peak.toFixed(0)} MiB; ` +
        `CPU while busy p50 ${quantile(busy, 0.5).toFixed(2)}, p95 ${quantile(busy, 0.95).toFixed(2)}, ` +
        `max ${Math.max(0, ...s.cores).toFixed(2)} cores (${busy.length} busy samples)\n`,
    );
  }
  process.exit(code ?? 1);
});
