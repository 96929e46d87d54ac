import { Autoscaler, describeDecision, type ScalingPolicy } from '@agent-fleet/scaling';

/** Starting and stopping worker processes by name. */
export interface WorkerProcesses {
  /** Starts worker `name`; resolves once it takes jobs, rejects if it did not start. */
  add(name: string): Promise<unknown>;
  /** Stops worker `name` as SIGTERM does (its turns finish first); resolves once it has exited. */
  remove(name: string): Promise<void>;
}

export interface LocalAutoscalerOptions {
  policy: ScalingPolicy;
  /** The fleet's backlog now: `WorkBacklog.total`, the numbers the gateway exports to KEDA. */
  backlog: () => Promise<number>;
  workers: WorkerProcesses;
  /** Where each decision and failure is written, one line each. */
  say: (line: string) => void;
}

type WorkerState = 'starting' | 'running' | 'stopping';

const stamp = () => new Date().toTimeString().slice(0, 8);

/**
 * KEDA on one machine: every `pollingSeconds` it reads the backlog, decides with the same
 * Autoscaler the generated ScaledObject describes, prints each change of the worker count with its
 * reason, and reconciles the processes to that count as a ReplicaSet does: workers are named
 * worker-0 … worker-(n-1); missing ones are started (again at the next poll if a start failed),
 * the highest-numbered go first, each finishing its turns. The count it decides includes workers
 * still starting, as a Deployment's replicas include pods not ready yet.
 */
export class LocalAutoscaler {
  readonly #opts: LocalAutoscalerOptions;
  readonly #scaler: Autoscaler;
  readonly #workers = new Map<string, WorkerState>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #unreadable = false;

  constructor(opts: LocalAutoscalerOptions) {
    this.#opts = opts;
    this.#scaler = new Autoscaler(opts.policy, { now: Date.now() / 1000 });
  }

  /** Starts the minimum of workers, resolves once they are ready, then polls. */
  async start(): Promise<void> {
    await Promise.allSettled(this.#reconcile(this.#scaler.replicas));
    this.#timer = setInterval(() => {
      this.#polling ??= this.#poll().finally(() => {
        this.#polling = undefined;
      });
    }, this.#opts.policy.pollingSeconds * 1000);
  }

  /** Stops polling (the processes stay: whoever supervises them stops them). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
  }

  async #poll(): Promise<void> {
    let backlog: number;
    try {
      backlog = await this.#opts.backlog();
      this.#unreadable = false;
    } catch (err) {
      if (!this.#unreadable)
        this.#say(
          `cannot read the backlog (${(err as Error).message}); keeping ${this.#scaler.replicas} workers`,
        );
      this.#unreadable = true;
      return;
    }
    const decision = this.#scaler.observe(backlog, Date.now() / 1000);
    if (decision.to !== decision.from) this.#say(describeDecision(decision));
    this.#reconcile(decision.to);
  }

  /** Starts the missing workers below `count` and stops those at or above it; returns the starts. */
  #reconcile(count: number): Promise<unknown>[] {
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const name = `worker-${i}`;
      if (!this.#workers.has(name)) starts.push(this.#startWorker(name));
    }
    for (const [name, state] of this.#workers) {
      if (state !== 'stopping' && Number(name.slice('worker-'.length)) >= count) void this.#stopWorker(name);
    }
    return starts;
  }

  async #startWorker(name: string): Promise<void> {
    this.#workers.set(name, 'starting');
    try {
      await this.#opts.workers.add(name);
      if (this.#workers.get(name) === 'starting') this.#workers.set(name, 'running');
    } catch (err) {
      if (this.#workers.get(name) === 'stopping') return;
      this.#workers.delete(name);
      this.#say(
        `${name} did not start (${(err as Error).message.split('\n')[0]}); trying again at the next poll`,
      );
    }
  }

  async #stopWorker(name: string): Promise<void> {
    this.#workers.set(name, 'stopping');
    try {
      await this.#opts.workers.remove(name);
    } catch (err) {
      this.#say(`${name} did not stop cleanly (${(err as Error).message})`);
    } finally {
      this.#workers.delete(name);
    }
  }

  #say(line: string): void {
    this.#opts.say(`[${stamp()}] autoscaler: ${line}`);
  }
}
