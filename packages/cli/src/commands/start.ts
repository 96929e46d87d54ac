import { join } from 'node:path';
import { createLogger, type FleetConfig, loadConfig } from '@agent-fleet/core';
import { type ServiceHandle, spawnService, startPostgres, startRedisServer } from '@agent-fleet/devstack';
import { createRetriever, ingestPaths, SAMPLE_CORPUS_DIR, SAMPLE_TENANT } from '@agent-fleet/rag';
import { createPool, migrate, ProfileStore } from '@agent-fleet/state';
import { REPO_ROOT, SERVICE_SCRIPTS } from '../paths.ts';
import { removeStackFile, writeStackFile } from '../stack-file.ts';
import { type DevCredentials, devUserToken, ensureDevCredentials } from './keys.ts';

export interface StartOptions {
  workers?: number;
  logs?: boolean;
  fleetDir?: string;
}

const log = createLogger('fleet');

/**
 * `fleet start`: the whole fleet on one machine. Redis, Postgres and the LLM simulator are started
 * here unless REDIS_URL, DATABASE_URL or LLM_BASE_URLS point at running ones; then the gateway and
 * the workers. Ctrl-C stops everything this command started, workers first.
 */
export async function startFleet(opts: StartOptions): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env };
  let config: FleetConfig;
  try {
    config = loadConfig(env);
  } catch (err) {
    process.stderr.write(`fleet start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const fleetDir = opts.fleetDir ?? env.FLEET_DIR ?? join(REPO_ROOT, '.fleet');
  const logDir = join(fleetDir, 'logs');
  const cleanups: (() => Promise<void>)[] = [];
  const services: ServiceHandle[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the fleet...\n');
    const byRole = (prefix: string) => services.filter((s) => s.name.startsWith(prefix));
    await Promise.all(byRole('worker').map((s) => s.stop(config.SHUTDOWN_GRACE_MS + 2000)));
    await Promise.all(byRole('gateway').map((s) => s.stop()));
    await Promise.all(byRole('llm-sim').map((s) => s.stop()));
    removeStackFile(fleetDir);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    process.stdout.write('stopped.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    if (!env.REDIS_URL) {
      const redis = await startRedisServer({ dataDir: join(fleetDir, 'redis') });
      cleanups.push(() => redis.stop());
      env.REDIS_URL = redis.url;
    }
    if (!env.DATABASE_URL) {
      const pg = await startPostgres({ dataDir: join(fleetDir, 'postgres') });
      cleanups.push(() => pg.stop());
      await pg.createDatabase('fleet').catch((err: Error) => {
        if (!/already exists/.test(err.message)) throw err;
      });
      env.DATABASE_URL = pg.urlFor('fleet');
    }
    await migrate(env.DATABASE_URL, log);
    const sample = await seedSampleData({ ...config, DATABASE_URL: env.DATABASE_URL });
    let dev: DevCredentials | undefined;
    if (env.AUTH_MODE !== 'off') {
      dev = await ensureDevCredentials({ databaseUrl: env.DATABASE_URL, fleetDir });
      env.JWT_SECRET ??= dev.jwtSecret;
    }
    if (!env.LLM_BASE_URLS) {
      const sim = spawnService({
        name: 'llm-sim',
        script: SERVICE_SCRIPTS.llmSim,
        // Extractive answers quote the retrieved passages with their markers: a newcomer sees grounded,
        // cited replies without a GPU.
        env: { SIM_MODE: 'extractive', ...env, SIM_PORT: '0' },
        readyEvent: 'listening',
        ...(opts.logs ? {} : { logFile: join(logDir, 'llm-sim.log') }),
      });
      services.push(sim);
      const info = await sim.ready;
      env.LLM_BASE_URLS = info!.url;
    }
    const gateway = spawnService({
      name: 'gateway',
      script: SERVICE_SCRIPTS.gateway,
      env,
      readyEvent: 'listening',
      ...(opts.logs ? {} : { logFile: join(logDir, 'gateway.log') }),
    });
    services.push(gateway);
    const gw = await gateway.ready;
    void gateway.exited.then((code) => {
      if (!stopping) {
        log.error({ code }, 'the gateway exited; stopping the fleet');
        void stopAll(1);
      }
    });

    const workerCount = opts.workers ?? config.WORKERS;
    const startWorker = (i: number) => {
      const w = spawnService({
        name: `worker-${i}`,
        script: SERVICE_SCRIPTS.worker,
        env,
        ...(opts.logs ? {} : { logFile: join(logDir, `worker-${i}.log`) }),
      });
      services.push(w);
      void w.exited.then((code) => {
        if (stopping) return;
        log.warn({ worker: i, code }, 'a worker exited; starting a new one');
        services.splice(services.indexOf(w), 1);
        setTimeout(() => startWorker(i), 1000);
      });
    };
    for (let i = 0; i < workerCount; i++) startWorker(i);

    const base = `http://localhost:${gw!.port}`;
    writeStackFile(fleetDir, {
      pid: process.pid,
      redisUrl: env.REDIS_URL,
      databaseUrl: env.DATABASE_URL,
      llmBaseUrls: env.LLM_BASE_URLS,
      gatewayUrl: base,
    });
    process.stdout.write(
      [
        '',
        'agent-fleet is running on the embedded stack',
        `  gateway     ${base}`,
        `  dashboard   ${base}/admin/queues   (Bull Board)`,
        `  metrics     ${base}/metrics`,
        `  LLM         ${env.LLM_BASE_URLS}`,
        `  Redis       ${env.REDIS_URL}`,
        `  Postgres    ${env.DATABASE_URL}`,
        `  workers     ${workerCount} processes${opts.logs ? '' : `, logs in ${logDir}`}`,
        '',
        `sample corpus: ${sample.documents} compliance policies of tenant ${SAMPLE_TENANT} (${sample.chunks} chunks)`,
        'demo users:    alice (compliance), ivan (compliance, aml-investigators), lena (legal, senior-management)',
        '',
        ...(dev && env.JWT_SECRET === dev.jwtSecret
          ? [
              'development credentials (kept in .fleet/dev-auth.json):',
              `  admin key    ${dev.adminKey}`,
              `  alice token  ${await devUserToken(dev.jwtSecret, 'alice')}`,
              '',
              'try (Bull Board asks for the admin key as a Bearer token; a browser extension or curl can send it):',
              `  export TOKEN=${await devUserToken(dev.jwtSecret, 'alice')}`,
            ]
          : ['try:', '  export TOKEN=<an API key or user token>']),
        `  curl -s -X POST ${base}/v1/users/alice/messages -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"text":"How long do we keep customer due diligence records?"}'`,
        `  curl -s -H "authorization: Bearer $TOKEN" ${base}/v1/turns/<turnId>`,
        `  curl -s -H "authorization: Bearer $TOKEN" ${base}/v1/users/alice/history`,
        `  pnpm fleet ingest ./my-policies --tenant ${SAMPLE_TENANT} --acl compliance`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    process.stderr.write(`fleet start: ${(err as Error).message}\n`);
    await stopAll(1);
  }
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
