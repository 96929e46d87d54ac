import { join } from 'node:path';
import { type ServiceHandle, spawnService } from '@agent-fleet/devstack';
import { type BenchStack, SCRIPTS } from './stack.ts';

type Env = Record<string, string | undefined>;

/** What a benchmark's fleet runs against, and how it differs from the defaults. */
export interface BenchFleetOptions {
  stack: BenchStack;
  /** LLM_BASE_URLS: the simulator (or servers) the workers call. */
  llmUrl: string;
  workers: number;
  /** Added to (or overriding) the fleet's environment: loopback, port 0, no auth, warn logs. */
  env?: Env;
}

/**
 * The fleet's deployables as child processes of one benchmark. Each logs to `<logDir>/<name>.log`;
 * `stopAll()` stops every one started (SIGTERM, then SIGKILL after 10 s), also when a start failed.
 */
export class BenchProcesses {
  readonly #logDir: string;
  readonly #services: ServiceHandle[] = [];

  constructor(logDir: string) {
    this.#logDir = logDir;
  }

  /** Every process started so far, in order: their names and pids are what a CPU meter reads. */
  get services(): readonly ServiceHandle[] {
    return this.#services;
  }

  /** The vLLM simulator with `env` on a port of its own; resolves with its `/v1` URL. */
  async simulator(env: Env): Promise<string> {
    const sim = this.#spawn('llm-sim', SCRIPTS.llmSim, 'listening', {
      PATH: process.env.PATH,
      SIM_PORT: '0',
      ...env,
    });
    return (await sim.ready)!.url;
  }

  /** A gateway, then `workers` workers (`worker-0`, …); resolves with the gateway's URL once all are ready. */
  async fleet(o: BenchFleetOptions): Promise<string> {
    const env = {
      PATH: process.env.PATH,
      REDIS_URL: o.stack.redis.url,
      DATABASE_URL: o.stack.databaseUrl,
      LLM_BASE_URLS: o.llmUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      AUTH_MODE: 'off',
      ...o.env,
    };
    const gateway = (await this.#spawn('gateway', SCRIPTS.gateway, 'listening', env).ready)!;
    const workers = Array.from({ length: o.workers }, (_, i) =>
      this.#spawn(`worker-${i}`, SCRIPTS.worker, 'ready', env),
    );
    await Promise.all(workers.map((w) => w.ready));
    return gateway.url;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#services.map((s) => s.stop()));
  }

  #spawn(name: string, script: string, readyEvent: 'listening' | 'ready', env: Env): ServiceHandle {
    const service = spawnService({
      name,
      script,
      env,
      readyEvent,
      logFile: join(this.#logDir, `${name}.log`),
    });
    this.#services.push(service);
    return service;
  }
}
