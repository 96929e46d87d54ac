import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { waitFor } from './fleet.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'packages/cli/src/main.ts');

/** A fresh directory under .fleet for a `fleet start` of the test's own (its FLEET_DIR). */
export function freshFleetDir(prefix: string): string {
  mkdirSync(join(ROOT, '.fleet'), { recursive: true });
  return mkdtempSync(join(ROOT, '.fleet', `${prefix}-`));
}

/** `fleet start` as a child process, and everything it printed so far (stdout and stderr). */
export interface FleetCli {
  child: ChildProcess;
  output(): string;
  /** Resolves once it says it is up; fails the test with its output if it exits first or `timeoutMs` passes. */
  untilUp(timeoutMs: number): Promise<void>;
}

/**
 * Runs `fleet start ...args` with `env` (and PATH) in a process group of its own, as a terminal
 * gives it (Ctrl-C is a SIGINT to that group).
 */
export function runFleetCli(args: string[], env: Record<string, string>): FleetCli {
  const child = spawn(process.execPath, [CLI, 'start', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!])
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
  return {
    child,
    output: () => output,
    async untilUp(timeoutMs) {
      await waitFor(async () => output.includes('Ctrl-C stops everything') || child.exitCode !== null, {
        timeoutMs,
        describe: () => output,
      });
      expect(child.exitCode, output).toBeNull();
    },
  };
}

/** Ctrl-C to a `fleet start` still running; SIGKILL to its process group if it has not exited within `timeoutMs`. */
export async function stopFleetCli(child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  if (!child || child.exitCode !== null) return;
  process.kill(-child.pid!, 'SIGINT');
  await waitFor(async () => child.exitCode !== null, { timeoutMs }).catch(() => {
    process.kill(-child.pid!, 'SIGKILL');
  });
}

/** The live (not zombie) child processes of `parent` with their command lines, from procfs. */
export function childProcesses(parent: number): { pid: number; cmdline: string }[] {
  const children: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== parent || state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      children.push({ pid: Number(entry), cmdline });
    } catch {
      // the process went away while we looked
    }
  }
  return children;
}
