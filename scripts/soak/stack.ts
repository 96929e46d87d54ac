import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@agent-fleet/core';
import {
  deployableService,
  logSupervisor,
  type ProcessRun,
  postgresService,
  redisService,
  type SupervisedService,
  Supervisor,
} from '@agent-fleet/devstack';
import { migrate } from '@agent-fleet/state';
import { FAST_RECOVERY_ENV } from '../../test/support/recovery-env.ts';
import { SCRIPTS, type ThrowawayDir, throwawayDir } from '../bench/stack.ts';

/** The simulators the soak runs: two, so one can die while the other answers. */
export const SIM_COUNT = 2;

/** The fleet the soak drives: every process is supervised, so each one it kills comes back. */
export interface SoakStack {
  readonly dir: string;
  readonly supervisor: Supervisor;
  readonly namespace: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly gatewayUrl: string;
  /** The gateway verifies user tokens signed with this (HS256). */
  readonly jwtSecret: string;
  /** Supervised service names. */
  readonly workers: readonly string[];
  readonly sims: readonly string[];
  /** Each simulator's admin base URL (`/sim/config`), by service name. */
  readonly simAdminUrls: ReadonlyMap<string, string>;
  /** The fleet's settings the SDK must share (TURN_BACKOFF_MS, …). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Keeps the service's next restart waiting until `ms` from now: the Supervisor still restarts
   * it, but its start holds back first, so a kill becomes an outage of that length.
   */
  holdRestart(service: string, ms: number): void;
  /**
   * Stops every process (workers first) and removes the run directory, unless `keep`; with
   * `keepLogs` only the services' logs stay (a failed run's evidence), not the data directories.
   */
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

export interface SoakStackOptions {
  workers: number;
  seed: number;
  keep: boolean;
  /** Where restart lines go ("worker-1 (pid …) exited with signal SIGKILL…"). */
  log: (line: string) => void;
}

/**
 * The embedded stack as `fleet start` runs it, in a throwaway `.fleet/soak-*` directory on free
 * ports: redis-server (AOF, REDIS_APPENDFSYNC, `always` unless set), PostgreSQL, two simulators,
 * the gateway (user tokens, AUTH_MODE required) and the workers, each under one Supervisor. The
 * fleet runs with the fast crash-recovery timings of the e2e tests and a history budget large
 * enough that no turn is folded into a summary, so each answer shows how many earlier messages its
 * prompt held. Everything is stopped and the directory removed if starting fails half-way.
 */
export async function startSoakStack(opts: SoakStackOptions): Promise<SoakStack> {
  const run = throwawayDir('soak');
  const supervisor = new Supervisor();
  const stopLogging = logSupervisor(supervisor, opts.log);
  const stop = async (how: { keepLogs?: boolean } = {}) => {
    await supervisor.stop();
    stopLogging();
    if (opts.keep) return;
    if (!how.keepLogs) run.remove();
    else for (const data of ['redis', 'postgres']) rmSync(run.path(data), { recursive: true, force: true });
  };
  try {
    return await startServices(run, supervisor, opts, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startServices(
  run: ThrowawayDir,
  supervisor: Supervisor,
  opts: SoakStackOptions,
  stop: SoakStack['stop'],
): Promise<SoakStack> {
  const holds = new Map<string, number>();
  const add = <R extends ProcessRun>(service: SupervisedService<R>) => supervisor.add(held(service, holds));
  const logs = run.path('logs');
  await mkdir(logs, { recursive: true });
  const logFile = (name: string) => ({ logFile: `${logs}/${name}.log` });
  const redis = await add(
    redisService({ dataDir: run.path('redis'), appendfsync: loadConfig().REDIS_APPENDFSYNC, detached: true }),
  );
  const pgLog = createWriteStream(`${logs}/postgres.log`, { flags: 'a' });
  const pg = await add(
    postgresService({ dataDir: run.path('postgres'), detached: true, onLog: (l) => pgLog.write(`${l}\n`) }),
  );
  await pg.createDatabase('fleet');
  const databaseUrl = pg.urlFor('fleet');
  await migrate(databaseUrl);

  const sims = Array.from({ length: SIM_COUNT }, (_, i) => `llm-sim-${i}`);
  const simRuns = await Promise.all(
    sims.map((name, i) =>
      add(
        deployableService({
          name,
          group: 'llm-sims',
          script: SCRIPTS.llmSim,
          env: {
            PATH: process.env.PATH,
            SIM_PORT: '0',
            SIM_MODE: 'echo',
            SIM_TIME_SCALE: '0',
            SIM_LATENCY_MS: '50',
            SIM_SEED: String((opts.seed + i) >>> 0),
          },
          portVariable: 'SIM_PORT',
          readyEvent: 'listening',
          detached: true,
          ...logFile(name),
        }),
      ),
    ),
  );
  const simUrls = simRuns.map((r) => r.info!.url);
  const jwtSecret = randomBytes(32).toString('base64url');
  const env: Record<string, string> = {
    ...FAST_RECOVERY_ENV,
    REDIS_URL: redis.url,
    DATABASE_URL: databaseUrl,
    LLM_BASE_URLS: simUrls.join(','),
    JWT_SECRET: jwtSecret,
    HOST: '127.0.0.1',
    PORT: '0',
    HISTORY_TOKEN_BUDGET: '1000000',
    LOG_LEVEL: 'info',
  };
  const processEnv = { PATH: process.env.PATH, ...env };
  const gateway = await add(
    deployableService({
      name: 'gateway',
      script: SCRIPTS.gateway,
      env: processEnv,
      portVariable: 'PORT',
      readyEvent: 'listening',
      detached: true,
      ...logFile('gateway'),
    }),
  );
  const workers = Array.from({ length: opts.workers }, (_, i) => `worker-${i}`);
  await Promise.all(
    workers.map((name) =>
      add(
        deployableService({
          name,
          group: 'workers',
          script: SCRIPTS.worker,
          env: processEnv,
          readyEvent: 'ready',
          detached: true,
          stopGraceMs: 8_000,
          ...logFile(name),
        }),
      ),
    ),
  );
  return {
    dir: run.dir,
    supervisor,
    namespace: loadConfig(env).FLEET_NAMESPACE,
    redisUrl: redis.url,
    databaseUrl,
    gatewayUrl: `http://127.0.0.1:${gateway.info!.port}`,
    jwtSecret,
    workers,
    sims,
    simAdminUrls: new Map(sims.map((name, i) => [name, simUrls[i]!.replace(/\/v1$/, '')])),
    env,
    holdRestart: (service, ms) => holds.set(service, Date.now() + ms),
    stop,
  };
}

/** The service, whose start first waits out a hold `holdRestart` put on it (then the hold is gone). */
function held<R extends ProcessRun>(
  service: SupervisedService<R>,
  holds: Map<string, number>,
): SupervisedService<R> {
  return {
    ...service,
    async start() {
      const wait = (holds.get(service.name) ?? 0) - Date.now();
      holds.delete(service.name);
      if (wait > 0) await sleep(wait);
      return service.start();
    },
  };
}
