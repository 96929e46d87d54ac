import type { ServiceHandle } from '@agent-fleet/devstack';
import { type RunningSim, type StartSimOptions, startSim } from '@agent-fleet/llm-sim';
import { afterAll, beforeAll } from 'vitest';
import { startTestFleet, type TestFleet } from './fleet.ts';
import { freePort, simProcess } from './sim-process.ts';
import { startedLater } from './started-later.ts';

export interface SimFleetOptions {
  /** The simulator's options; it spends no simulated compute time unless `engine.timeScale` says so. */
  sim?: StartSimOptions;
  workers: number;
  /** The fleet's environment; a function when it points at something started just before the fleet. */
  env?: Record<string, string> | (() => Promise<Record<string, string>>);
  /** Wait until the workers take jobs before the tests run. */
  untilWorkersReady?: boolean;
}

/**
 * The simulator in this process and a test fleet on it, started before the tests of the enclosing
 * `describe` and stopped after them. The values returned stand for the started ones: read them in
 * hooks and tests, not while the describe is being collected.
 */
export function useSimFleet(opts: SimFleetOptions): { sim: RunningSim; fleet: TestFleet } {
  let sim: RunningSim | undefined;
  let fleet: TestFleet | undefined;
  beforeAll(async () => {
    sim = await startSim({ ...opts.sim, engine: { timeScale: 0, ...opts.sim?.engine } });
    fleet = await startFleet(sim.url, opts);
  });
  afterAll(async () => {
    await fleet?.stop();
    await sim?.close();
  });
  return { sim: startedLater('the simulator', () => sim), fleet: startedLater('the fleet', () => fleet) };
}

/** The simulator as a process of its own, as in production; a test can kill it and start it again at the same URL. */
export interface SimProcess {
  /** Its OpenAI API, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  /** SIGKILLs the simulator; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on its port; resolves once it listens. */
  restart(): Promise<void>;
}

/** As `useSimFleet`, with the simulator a process of its own (`simProcess`, `simEnv` added to its environment). */
export function useSimProcessFleet(
  opts: Omit<SimFleetOptions, 'sim'> & { simEnv?: Record<string, string> },
): {
  sim: SimProcess;
  fleet: TestFleet;
} {
  let port = 0;
  let run = 1;
  let server: ServiceHandle | undefined;
  let fleet: TestFleet | undefined;
  const start = async () => {
    server = simProcess(port, run++, opts.simEnv);
    await server.ready;
  };
  const sim: SimProcess = {
    get url() {
      return `http://127.0.0.1:${port}/v1`;
    },
    async kill() {
      server!.kill('SIGKILL');
      await server!.exited;
    },
    restart: start,
  };
  beforeAll(async () => {
    port = await freePort();
    await start();
    fleet = await startFleet(sim.url, opts);
  });
  afterAll(async () => {
    await fleet?.stop();
    await server?.stop();
  });
  return { sim, fleet: startedLater('the fleet', () => fleet) };
}

async function startFleet(llmUrl: string, opts: Omit<SimFleetOptions, 'sim'>): Promise<TestFleet> {
  const env = typeof opts.env === 'function' ? await opts.env() : opts.env;
  const fleet = await startTestFleet({ llmUrl, workers: opts.workers, env });
  if (opts.untilWorkersReady) await fleet.workersReady();
  return fleet;
}
