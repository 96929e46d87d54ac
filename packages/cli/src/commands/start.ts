import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createLogger,
  createRedis,
  describeRedisTarget,
  type FleetConfig,
  loadConfig,
  type RedisTarget,
  redisTargetOf,
} from '@agent-fleet/core';
import {
  deployableService,
  describeExit,
  freePort,
  logSupervisor,
  postgresService,
  redisService,
  type ServiceOptions,
  Supervisor,
} from '@agent-fleet/devstack';
import { createRetriever, ingestPaths, SAMPLE_CORPUS_DIR, SAMPLE_TENANT } from '@agent-fleet/rag';
import { scalingPolicyFromConfig } from '@agent-fleet/scaling';
import { createPool, migrate, ProfileStore } from '@agent-fleet/state';
import { type TracingSettings, tracingSettings } from '@agent-fleet/telemetry';
import { WorkBacklog } from '@agent-fleet/turns';
import { REPO_ROOT, SERVICE_SCRIPTS } from '../paths.ts';
import { removeStackFile, writeStackFile } from '../stack-file.ts';
import { type DevCredentials, ensureDevCredentials } from './keys.ts';
import { ScrapeConfig } from './scrape-config.ts';
import { startBanner } from './start-banner.ts';
import { LocalAutoscaler } from './worker-autoscaler.ts';

export interface StartOptions {
  workers?: number;
  logs?: boolean;
  fleetDir?: string;
}

const log = createLogger('fleet');

/** Where one service's output goes: a file under the log directory, or this terminal with `--logs`. */
type LogTarget = (service: string) => Pick<ServiceOptions, 'logFile'>;

/**
 * `fleet start`: the whole fleet on one machine. Redis, Postgres and the LLM simulator are started
 * here unless REDIS_URL (or REDIS_CLUSTER_NODES), DATABASE_URL or LLM_BASE_URLS point at running
 * ones; then the gateway and the workers: `--workers N` (or WORKERS) of them, or as many as the
 * local autoscaler decides on the backlog with the AUTOSCALE_* policy (the one the Kubernetes
 * overlays' ScaledObjects say). Every process started here is supervised: one that dies is
 * restarted on its port and data, with a line saying so. Ctrl-C stops everything this command
 * started, workers first, with no restart from then on. The services run in process groups of their own so that a terminal's
 * Ctrl-C reaches this command only and the order holds.
 */
export async function startFleet(opts: StartOptions): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env };
  let config: FleetConfig;
  let tracing: TracingSettings | null;
  try {
    config = loadConfig(env);
    // The gateway and the workers get these OTEL_* variables too: a bad one stops them all here.
    tracing = tracingSettings(env);
  } catch (err) {
    process.stderr.write(`fleet start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const fleetDir = opts.fleetDir ?? env.FLEET_DIR ?? join(REPO_ROOT, '.fleet');
  const logDir = opts.logs ? undefined : join(fleetDir, 'logs');
  const logTarget: LogTarget = (service) => (logDir ? { logFile: join(logDir, `${service}.log`) } : {});
  const supervisor = new Supervisor();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  logSupervisor(supervisor, say);
  let stopping = false;
  let autoscaler: { stop(): Promise<void> } | undefined;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nstopping the fleet (workers first)...');
    await autoscaler?.stop();
    supervisor.on('exit', (e) => {
      if (e.planned) say(`  ${e.service} stopped (pid ${e.pid}, ${describeExit(e.status)})`);
    });
    await supervisor.stop();
    removeStackFile(fleetDir);
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    if (logDir) await mkdir(logDir, { recursive: true });
    const embedded = {
      redis: !env.REDIS_URL && !env.REDIS_CLUSTER_NODES,
      postgres: !env.DATABASE_URL,
      llm: !env.LLM_BASE_URLS,
    };
    await startDataServices(supervisor, env, { fleetDir, logDir, appendfsync: config.REDIS_APPENDFSYNC });
    const databaseUrl = env.DATABASE_URL!;
    await migrate(databaseUrl, log);
    const sample = await seedSampleData({ ...config, DATABASE_URL: databaseUrl });
    let dev: DevCredentials | undefined;
    if (env.AUTH_MODE !== 'off') {
      dev = await ensureDevCredentials({ databaseUrl, fleetDir });
      env.JWT_SECRET ??= dev.jwtSecret;
    }
    const fixedWorkers = opts.workers ?? config.WORKERS;
    const gatewayUrl = await startFleetProcesses(supervisor, env, { logTarget });
    const scrape = new ScrapeConfig({ fleetDir, gatewayUrl, llmBaseUrls: env.LLM_BASE_URLS!.split(',') });
    const workers = workerProcesses(supervisor, env, {
      logTarget,
      workerStopGraceMs: config.SHUTDOWN_GRACE_MS + 2000,
      scrape,
    });
    if (fixedWorkers === undefined) {
      const redis = redisTargetOf({ ...config, REDIS_URL: env.REDIS_URL ?? config.REDIS_URL });
      autoscaler = await startAutoscaler(config, redis, workers, say);
    } else {
      await Promise.all(Array.from({ length: fixedWorkers }, (_, i) => workers.add(`worker-${i}`)));
    }
    writeStackFile(fleetDir, {
      pid: process.pid,
      ...(env.REDIS_CLUSTER_NODES
        ? { redisClusterNodes: env.REDIS_CLUSTER_NODES }
        : { redisUrl: env.REDIS_URL! }),
      databaseUrl,
      llmBaseUrls: env.LLM_BASE_URLS!,
      gatewayUrl,
    });
    say(
      await startBanner({
        gatewayUrl,
        llmBaseUrls: env.LLM_BASE_URLS!,
        redis: describeRedisTarget(
          redisTargetOf({ ...config, REDIS_URL: env.REDIS_URL ?? config.REDIS_URL }),
        ),
        databaseUrl,
        embedded,
        appendfsync: config.REDIS_APPENDFSYNC,
        workers:
          fixedWorkers === undefined
            ? `${config.AUTOSCALE_MIN_WORKERS} to ${config.AUTOSCALE_MAX_WORKERS} processes, autoscaled on the backlog (${config.AUTOSCALE_TARGET_BACKLOG} turns per worker; --workers N fixes the count)`
            : `${fixedWorkers} processes   (restarted if they die)`,
        logDir,
        fleetDir,
        scrapeConfig: scrape.configFile,
        sample,
        authOff: env.AUTH_MODE === 'off',
        traces: tracing
          ? `${tracing.url}   (OTLP ${tracing.protocol}, from the gateway and every worker)`
          : undefined,
        dev: dev && env.JWT_SECRET === dev.jwtSecret ? dev : undefined,
      }),
    );
  } catch (err) {
    // A start that Ctrl-C interrupted fails too; only a failure of its own is worth a message.
    if (!stopping) process.stderr.write(`fleet start: ${(err as Error).message}\n`);
    await stopAll(1);
  }
}

/**
 * Redis and Postgres, unless REDIS_URL (or REDIS_CLUSTER_NODES) and DATABASE_URL name running ones;
 * sets REDIS_URL (when no cluster is named) and DATABASE_URL in `env`.
 */
async function startDataServices(
  supervisor: Supervisor,
  env: Record<string, string | undefined>,
  opts: { fleetDir: string; logDir: string | undefined; appendfsync: FleetConfig['REDIS_APPENDFSYNC'] },
): Promise<void> {
  if (!env.REDIS_URL && !env.REDIS_CLUSTER_NODES) {
    const redis = await supervisor.add(
      redisService({ dataDir: join(opts.fleetDir, 'redis'), appendfsync: opts.appendfsync, detached: true }),
    );
    env.REDIS_URL = redis.url;
  }
  if (!env.DATABASE_URL) {
    const pgLog = opts.logDir
      ? createWriteStream(join(opts.logDir, 'postgres.log'), { flags: 'a' })
      : undefined;
    const pg = await supervisor.add(
      postgresService({
        dataDir: join(opts.fleetDir, 'postgres'),
        detached: true,
        onLog: (line) => (pgLog ?? process.stderr).write(`${line}\n`),
      }),
    );
    await pg.createDatabase('fleet').catch((err: Error) => {
      if (!/already exists/.test(err.message)) throw err;
    });
    env.DATABASE_URL = pg.urlFor('fleet');
  }
}

/** The simulator (unless LLM_BASE_URLS is set) and the gateway, each ready before this returns; resolves with the gateway's URL. */
async function startFleetProcesses(
  supervisor: Supervisor,
  env: Record<string, string | undefined>,
  opts: { logTarget: LogTarget },
): Promise<string> {
  if (!env.LLM_BASE_URLS) {
    const sim = await supervisor.add(
      deployableService({
        name: 'llm-sim',
        script: SERVICE_SCRIPTS.llmSim,
        // Extractive answers quote the retrieved passages with their markers: a newcomer sees
        // grounded, cited replies without a GPU.
        env: { SIM_MODE: 'extractive', ...env, SIM_PORT: '0' },
        portVariable: 'SIM_PORT',
        readyEvent: 'listening',
        detached: true,
        ...opts.logTarget('llm-sim'),
      }),
    );
    env.LLM_BASE_URLS = sim.info!.url;
  }
  const gateway = await supervisor.add(
    deployableService({
      name: 'gateway',
      script: SERVICE_SCRIPTS.gateway,
      env,
      portVariable: 'PORT',
      readyEvent: 'listening',
      detached: true,
      ...opts.logTarget('gateway'),
    }),
  );
  return `http://localhost:${gateway.info!.port}`;
}

/**
 * Supervised worker processes by name, in the group `workers` (stopped first). Unless
 * WORKER_METRICS_PORT names one, each serves its metrics on a port of its own, kept across
 * restarts and listed in the scrape configuration.
 */
function workerProcesses(
  supervisor: Supervisor,
  env: Record<string, string | undefined>,
  opts: { logTarget: LogTarget; workerStopGraceMs: number; scrape: ScrapeConfig },
) {
  const fixedPort = Number(env.WORKER_METRICS_PORT ?? 0) > 0;
  return {
    add: async (name: string) => {
      const port = fixedPort ? undefined : await freePort();
      const run = await supervisor.add(
        deployableService({
          name,
          group: 'workers',
          script: SERVICE_SCRIPTS.worker,
          env: port === undefined ? env : { ...env, WORKER_METRICS_PORT: String(port) },
          readyEvent: 'ready',
          detached: true,
          stopGraceMs: opts.workerStopGraceMs,
          ...opts.logTarget(name),
        }),
      );
      if (port !== undefined) opts.scrape.addWorker(name, port);
      return run;
    },
    remove: async (name: string) => {
      opts.scrape.removeWorker(name);
      await supervisor.remove(name);
    },
  };
}

/**
 * The local autoscaler over worker processes, on the backlog it reads from Redis (the numbers the
 * gateway exports to KEDA), with the AUTOSCALE_* policy; resolves once the minimum is ready.
 */
async function startAutoscaler(
  config: FleetConfig,
  target: RedisTarget,
  workers: ReturnType<typeof workerProcesses>,
  say: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const redis = createRedis(target, { role: 'producer' });
  redis.on('error', () => {});
  const backlog = new WorkBacklog({
    connection: redis,
    namespace: config.FLEET_NAMESPACE,
    partitions: config.PARTITIONS,
  });
  const scaler = new LocalAutoscaler({
    policy: scalingPolicyFromConfig(config),
    backlog: () => backlog.total(),
    workers,
    say,
  });
  await scaler.start();
  return {
    async stop() {
      await scaler.stop();
      await backlog.close().catch(() => {});
      redis.disconnect();
    },
  };
}

const DEMO_USERS = [
  {
    userId: 'alice',
    groups: ['compliance'],
    roleContext: 'Alice is a compliance officer in retail banking.',
  },
  {
    userId: 'ivan',
    groups: ['compliance', 'aml-investigators'],
    roleContext: 'Ivan investigates suspicious activity.',
  },
  { userId: 'lena', groups: ['legal', 'senior-management'], roleContext: 'Lena is the general counsel.' },
];

/**
 * The sample corpus (idempotent: unchanged documents are skipped) and demo profiles (created once,
 * never overwritten), so a newcomer can ask questions right away.
 */
async function seedSampleData(config: FleetConfig): Promise<{ documents: number; chunks: number }> {
  const pool = createPool(config.DATABASE_URL, 4);
  const retriever = await createRetriever(config, pool);
  try {
    const report = await ingestPaths([SAMPLE_CORPUS_DIR], {
      tenant: SAMPLE_TENANT,
      retriever,
      root: SAMPLE_CORPUS_DIR,
    });
    for (const f of report.files) {
      if (f.status === 'failed')
        log.warn({ file: f.source, err: f.error?.message }, 'sample document not ingested');
    }
    const profiles = new ProfileStore({ pool });
    for (const u of DEMO_USERS) {
      if (!(await profiles.get(u.userId))) {
        await profiles.put(u.userId, { tenant: SAMPLE_TENANT, groups: u.groups, roleContext: u.roleContext });
      }
    }
    return { documents: report.ok, chunks: report.files.reduce((n, f) => n + (f.chunks ?? 0), 0) };
  } finally {
    await retriever.close();
    await pool.end();
  }
}
