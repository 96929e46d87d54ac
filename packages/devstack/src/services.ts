import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { type ExitStatus, exitStatus, onProcessExit } from './process-tools.ts';
import type { ProcessRun } from './supervisor.ts';

export interface ServiceOptions {
  /** Shown in messages, e.g. "worker-2". */
  name: string;
  /** The TypeScript entry point, run by this Node (type stripping). */
  script: string;
  env: Record<string, string | undefined>;
  /** Child output goes here (appended); without it, it is forwarded to this process' stderr. */
  logFile?: string;
  /**
   * Wait for the child's `{"event":"<readyEvent>",...}` line on stdout (deployables print
   * `listening` or `ready`); without it the service counts as ready once spawned.
   */
  readyEvent?: 'listening' | 'ready';
  readyTimeoutMs?: number;
  /**
   * Runs the child in a process group of its own, so a terminal's Ctrl-C (sent to the whole
   * foreground group) reaches only the launcher, which then stops its services in order.
   */
  detached?: boolean;
}

export interface ListeningInfo {
  url: string;
  port: number;
  [key: string]: unknown;
}

export interface ServiceHandle {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the ready line (or null when not waited for); rejects if the child exits first. */
  ready: Promise<ListeningInfo | null>;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Run one of the fleet's deployables as a child process and learn where it listens. The child is
 * sent SIGTERM if this process exits while it runs.
 */
export function spawnService(opts: ServiceOptions): ServiceHandle {
  const child = spawn(process.execPath, [opts.script], {
    env: { ...opts.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  if (!child.pid) throw new Error(`${opts.name}: could not start ${opts.script}`);
  // A child in its own group gets no Ctrl-C from the terminal: make sure it does not outlive us.
  const unregister = onProcessExit(() => child.kill('SIGTERM'));
  child.once('exit', unregister);
  let sink: NodeJS.WritableStream = process.stderr;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    sink = createWriteStream(opts.logFile, { flags: 'a' });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const tail: string[] = [];
  const ready = new Promise<ListeningInfo | null>((resolve, reject) => {
    let settled = false;
    const timer = opts.readyEvent
      ? setTimeout(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`${opts.name} did not get ready in time:\n${tail.join('\n')}`));
        }, opts.readyTimeoutMs ?? 30_000)
      : undefined;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        sink.write(`${line}\n`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (!settled && opts.readyEvent && line.startsWith(`{"event":"${opts.readyEvent}"`)) {
          settled = true;
          clearTimeout(timer);
          resolve(JSON.parse(line) as ListeningInfo);
        }
      });
    }
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited (${code}) before it was ready:\n${tail.join('\n')}`));
    });
    if (!opts.readyEvent) {
      settled = true;
      resolve(null);
    }
  });
  ready.catch(() => {});
  return {
    name: opts.name,
    child,
    pid: child.pid,
    ready,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A deployable's process that is ready (see `startService`). */
export interface ServiceRun extends ProcessRun {
  readonly name: string;
  /** The ready line (`url`, `port`, …), or null when the service was not asked for one. */
  readonly info: ListeningInfo | null;
}

/**
 * Starts a deployable and resolves once it is ready (its ready line printed); when it exits or
 * times out first, it is stopped and the error (with its last output lines) rethrown.
 * `stop()` sends SIGTERM and SIGKILL after `stopGraceMs` (default 10 s).
 */
export async function startService(opts: ServiceOptions & { stopGraceMs?: number }): Promise<ServiceRun> {
  const handle = spawnService(opts);
  const exited: Promise<ExitStatus> = exitStatus(handle.child);
  let info: ListeningInfo | null;
  try {
    info = await handle.ready;
  } catch (err) {
    await handle.stop(2_000);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    pid: handle.pid,
    ...(info ? { url: info.url } : {}),
    info,
    exited,
    stop() {
      stopping ??= handle.stop(opts.stopGraceMs);
      return stopping;
    },
  };
}
