import { EventEmitter } from 'node:events';
import type { ExitStatus } from './process-tools.ts';
import { DEFAULT_RESTART_BACKOFF, type RestartBackoff, restartDelayMs } from './restart-backoff.ts';

/** One run of a supervised process, as its service's `start` returns it once the process is ready. */
export interface ProcessRun {
  readonly pid: number;
  /** Where it serves, for messages (e.g. `redis://127.0.0.1:6379`). */
  readonly url?: string;
  /** Resolves with how the process ended, once it has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Stops the process (gracefully first, as the service needs) and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** A process the supervisor keeps running. */
export interface SupervisedService<R extends ProcessRun = ProcessRun> {
  readonly name: string;
  /**
   * Services of one group stop together; groups stop in the reverse order of their first service's
   * `add` (add Redis, then Postgres, the gateway, the workers: the workers stop first). Defaults to the name.
   */
  readonly group?: string;
  /**
   * Starts one run and resolves once it is ready to serve; rejects when it exits or times out first,
   * leaving nothing running. Called again for every restart, so it must come back where clients
   * look for it: the same port, the same data.
   */
  start(): Promise<R>;
}

export type ServiceState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

/** A run is ready: the first one (`restarts` 0) or a restart. */
export interface ReadyEvent {
  service: string;
  pid: number;
  url?: string;
  /** Restarts that came up so far, this one included. */
  restarts: number;
  /** From calling `start` to ready. */
  startedInMs: number;
}

/** A ready run exited; `planned` when `stop()` asked for it (no restart follows). */
export interface ExitEvent {
  service: string;
  pid: number;
  status: ExitStatus;
  uptimeMs: number;
  planned: boolean;
}

/** Why a restart is due: the run exited, or the previous restart never became ready. */
export type RestartCause =
  | { kind: 'exited'; pid: number; status: ExitStatus; uptimeMs: number }
  | { kind: 'start-failed'; error: Error };

/** A restart is scheduled `delayMs` from now; `attempt` counts consecutive restarts (backoff). */
export interface RestartEvent {
  service: string;
  attempt: number;
  delayMs: number;
  cause: RestartCause;
}

export type SupervisorEvents = {
  ready: [ReadyEvent];
  exit: [ExitEvent];
  restarting: [RestartEvent];
};

/** What `list()` says about one service. */
export interface ServiceStatus {
  name: string;
  group: string;
  state: ServiceState;
  pid: number | undefined;
  url: string | undefined;
  restarts: number;
}

export interface SupervisorOptions {
  backoff?: Partial<RestartBackoff>;
}

interface Entry {
  readonly service: SupervisedService;
  readonly group: string;
  phase: Exclude<ServiceState, 'stopping'>;
  run: ProcessRun | undefined;
  readyAt: number;
  restarts: number;
  /** Consecutive restarts since the last stable run: the backoff exponent. */
  attempt: number;
  stopRequested: boolean;
  cancelWait: (() => void) | undefined;
  /** Settles when supervision of this service has ended (after `stop`, or a failed first start). */
  supervision: Promise<void>;
}

/**
 * Keeps processes running: a process that exits without being asked to is restarted after a
 * backoff delay (see `RestartBackoff`), and `stop()` stops every process, group by group, with no
 * restart after it is called. Everything that happens is an event (`ready`, `exit`, `restarting`)
 * and the current pid, state and restart count of each service can be read at any time, so a
 * launcher can print what happened and a soak test can kill processes and watch them come back.
 * A library: it never installs signal handlers; the program that owns it calls `stop()`.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #backoff: RestartBackoff;
  readonly #entries = new Map<string, Entry>();
  #stopping: Promise<void> | undefined;

  constructor(opts: SupervisorOptions = {}) {
    super();
    this.#backoff = { ...DEFAULT_RESTART_BACKOFF, ...opts.backoff };
  }

  /**
   * Starts the service and supervises it from then on; resolves with its first run once ready.
   * A first start that fails rejects and leaves the service unsupervised: a launcher should stop
   * there rather than retry a misconfiguration.
   */
  add<R extends ProcessRun>(service: SupervisedService<R>): Promise<R> {
    if (this.#stopping) return Promise.reject(new Error(`cannot start ${service.name}: stopping`));
    if (this.#entries.has(service.name)) {
      return Promise.reject(new Error(`a service named ${service.name} is already supervised`));
    }
    const entry: Entry = {
      service,
      group: service.group ?? service.name,
      phase: 'starting',
      run: undefined,
      readyAt: 0,
      restarts: 0,
      attempt: 0,
      stopRequested: false,
      cancelWait: undefined,
      supervision: Promise.resolve(),
    };
    this.#entries.set(service.name, entry);
    return new Promise<R>((resolve, reject) => {
      entry.supervision = this.#supervise(entry, (run) => resolve(run as R), reject);
    });
  }

  /** The pid of the service's current run; undefined while it is down. */
  pid(name: string): number | undefined {
    return this.#entry(name).run?.pid;
  }

  /** Restarts of the service that came up. */
  restarts(name: string): number {
    return this.#entry(name).restarts;
  }

  state(name: string): ServiceState {
    const entry = this.#entry(name);
    return entry.stopRequested && entry.phase !== 'stopped' ? 'stopping' : entry.phase;
  }

  /** Every service added, in the order added. */
  list(): ServiceStatus[] {
    return [...this.#entries.values()].map((entry) => ({
      name: entry.service.name,
      group: entry.group,
      state: this.state(entry.service.name),
      pid: entry.run?.pid,
      url: entry.run?.url,
      restarts: entry.restarts,
    }));
  }

  /** Sends `signal` to the service's current process and returns its pid; throws while it is down. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): number {
    const pid = this.pid(name);
    if (pid === undefined) throw new Error(`${name} has no running process (${this.state(name)})`);
    process.kill(pid, signal);
    return pid;
  }

  /** The service's next `ready` event (a restart that came up); rejects after `timeoutMs`. */
  nextReady(name: string, timeoutMs = 60_000): Promise<ReadyEvent> {
    this.#entry(name);
    return new Promise((resolve, reject) => {
      const onReady = (event: ReadyEvent) => {
        if (event.service !== name) return;
        clearTimeout(timer);
        this.off('ready', onReady);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.off('ready', onReady);
        reject(new Error(`${name} was not ready within ${timeoutMs} ms (${this.state(name)})`));
      }, timeoutMs);
      this.on('ready', onReady);
    });
  }

  /**
   * Stops one service for good and forgets it, resolving once its process has exited: the run is
   * stopped as its service stops it (a worker finishes its turns first), no restart follows, a
   * restart waiting for its delay is dropped, and the name may be added again afterwards. An
   * autoscaler removes worker processes with it; `add` of a service removed while starting rejects.
   */
  async remove(name: string): Promise<void> {
    const entry = this.#entry(name);
    entry.stopRequested = true;
    await this.#stopEntry(entry);
    if (this.#entries.get(name) === entry) this.#entries.delete(name);
  }

  /**
   * Stops every service, group by group in the reverse order of adding, and resolves once all have
   * exited. No restart happens once it has been called, and a restart waiting for its delay is
   * dropped. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    for (const entry of this.#entries.values()) entry.stopRequested = true;
    const groups = [...new Set([...this.#entries.values()].map((entry) => entry.group))].reverse();
    for (const group of groups) {
      const members = [...this.#entries.values()].filter((entry) => entry.group === group);
      await Promise.all(members.map((entry) => this.#stopEntry(entry)));
    }
  }

  async #stopEntry(entry: Entry): Promise<void> {
    entry.cancelWait?.();
    await entry.run?.stop();
    await entry.supervision;
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (!entry) throw new Error(`no service named ${name} is supervised`);
    return entry;
  }

  async #supervise(entry: Entry, resolveFirst: (run: ProcessRun) => void, rejectFirst: (err: Error) => void) {
    let run: ProcessRun | undefined;
    try {
      run = await this.#launch(entry);
    } catch (err) {
      this.#entries.delete(entry.service.name);
      entry.phase = 'stopped';
      rejectFirst(err as Error);
      return;
    }
    if (entry.stopRequested) rejectFirst(new Error(`${entry.service.name} was stopped while starting`));
    else resolveFirst(run);
    while (run) {
      const cause = await this.#awaitExit(entry, run);
      run = cause ? await this.#restart(entry, cause) : undefined;
    }
    entry.phase = 'stopped';
  }

  /** Starts one run; once ready it is announced, or stopped at once when stop() came meanwhile. */
  async #launch(entry: Entry, isRestart = false): Promise<ProcessRun> {
    entry.phase = 'starting';
    const began = Date.now();
    const run = await entry.service.start();
    entry.run = run;
    entry.readyAt = Date.now();
    entry.phase = 'running';
    if (entry.stopRequested) {
      await run.stop();
      return run;
    }
    if (isRestart) entry.restarts += 1;
    this.#announce('ready', {
      service: entry.service.name,
      pid: run.pid,
      ...(run.url === undefined ? {} : { url: run.url }),
      restarts: entry.restarts,
      startedInMs: entry.readyAt - began,
    });
    return run;
  }

  /** Waits for the run to exit and reports it; returns why to restart, or undefined when planned. */
  async #awaitExit(entry: Entry, run: ProcessRun): Promise<RestartCause | undefined> {
    const status = await run.exited;
    const uptimeMs = Date.now() - entry.readyAt;
    entry.run = undefined;
    const planned = entry.stopRequested;
    this.#announce('exit', { service: entry.service.name, pid: run.pid, status, uptimeMs, planned });
    if (planned) return undefined;
    if (uptimeMs >= this.#backoff.stableAfterMs) entry.attempt = 0;
    return { kind: 'exited', pid: run.pid, status, uptimeMs };
  }

  /** Restarts after the backoff delay, again and again, until a run is ready or stop() is called. */
  async #restart(entry: Entry, first: RestartCause): Promise<ProcessRun | undefined> {
    let cause = first;
    for (;;) {
      entry.attempt += 1;
      const delayMs = restartDelayMs(this.#backoff, entry.attempt);
      entry.phase = 'backoff';
      this.#announce('restarting', { service: entry.service.name, attempt: entry.attempt, delayMs, cause });
      if (!(await this.#wait(entry, delayMs))) return undefined;
      try {
        return await this.#launch(entry, true);
      } catch (err) {
        if (entry.stopRequested) return undefined;
        cause = { kind: 'start-failed', error: err as Error };
      }
    }
  }

  /** Emits an event; a listener that throws does not break supervision (its error is rethrown apart). */
  #announce<K extends keyof SupervisorEvents>(event: K, ...args: SupervisorEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: SupervisorEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  /** Resolves true after `ms`, or false as soon as stop() is called. */
  #wait(entry: Entry, ms: number): Promise<boolean> {
    if (entry.stopRequested) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        entry.cancelWait = undefined;
        resolve(true);
      }, ms);
      entry.cancelWait = () => {
        clearTimeout(timer);
        entry.cancelWait = undefined;
        resolve(false);
      };
    });
  }
}
