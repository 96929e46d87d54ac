import { type ChildProcess, execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/** `execFile` returning a promise of `{ stdout, stderr }`. */
export const execFileAsync = promisify(execFile);

/** True when `pid` names a live (non-zombie) process, including one owned by another user. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; a zombie has exited but was not reaped yet.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs (macOS): trust kill(0)
  }
}

/** The command line of `pid` joined with spaces (from procfs, else `ps`), or '' when it cannot be read. */
export async function commandLineOf(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    try {
      const { stdout } = await execFileAsync('ps', ['-o', 'command=', '-p', String(pid)]);
      return stdout.trim();
    } catch {
      return '';
    }
  }
}

/** One step of a shutdown: send `signal`, then wait up to `waitMs` for the process to go away. */
export type ShutdownStep = readonly [signal: NodeJS.Signals, waitMs: number];

/** Walks `steps` in order until `pid` is gone; resolves true if it went away. */
export async function terminatePid(pid: number, steps: readonly ShutdownStep[]): Promise<boolean> {
  for (const [signal, waitMs] of steps) {
    try {
      process.kill(pid, signal);
    } catch {
      return true; // already gone
    }
    if (await waitUntilGone(pid, waitMs)) return true;
  }
  return false;
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** How a process ended: its exit code, or the signal that ended it (one of the two is set). */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves once `child` has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return exitStatus(child).then(() => {});
}

/** Resolves with how `child` ended, once it has exited (immediately if it already has). */
export function exitStatus(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** "exit code 3" or "signal SIGKILL", for messages. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code ?? 'unknown'}`;
}

/** Sends `signal` to `child`, escalates to SIGKILL after `graceMs`, and resolves once it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await done;
  } finally {
    clearTimeout(timer);
  }
}

const exitCleanups = new Set<() => void>();
let exitListenerInstalled = false;

/**
 * Runs `cleanup` synchronously if the Node process exits while it is registered, so servers we
 * spawned do not outlive us after a normal exit or an uncaught exception. Only the 'exit' event is
 * used: no signal handlers are installed. Returns a function that unregisters `cleanup`.
 */
export function onProcessExit(cleanup: () => void): () => void {
  if (!exitListenerInstalled) {
    exitListenerInstalled = true;
    process.on('exit', () => {
      for (const fn of exitCleanups) {
        try {
          fn();
        } catch {
          // best effort while exiting
        }
      }
    });
  }
  exitCleanups.add(cleanup);
  return () => {
    exitCleanups.delete(cleanup);
  };
}

/** Keeps the last `max` lines fed to it; `text()` joins them for error messages. */
export class LineTail {
  readonly #max: number;
  readonly #lines: string[] = [];
  #partial = '';

  constructor(max: number) {
    this.#max = max;
  }

  /** Appends a chunk of output; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const parts = (this.#partial + chunk).split(/\r?\n/);
    this.#partial = parts.pop() ?? '';
    const complete = parts.filter((line) => line.length > 0);
    this.#lines.push(...complete);
    if (this.#lines.length > this.#max) this.#lines.splice(0, this.#lines.length - this.#max);
    return complete;
  }

  text(): string {
    return [...this.#lines, this.#partial].filter((line) => line.length > 0).join('\n');
  }
}

/** The last `lines` lines of a text file (read from its last 64 KiB), or '' when it cannot be read. */
export async function tailOfFile(path: string, lines: number): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 64 * 1024);
      const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await file.close();
    }
  } catch {
    return '';
  }
}
