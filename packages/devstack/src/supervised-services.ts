import { type PostgresHandle, type StartPostgresOptions, startPostgres } from './postgres-server.ts';
import { type RedisServerHandle, type StartRedisServerOptions, startRedisServer } from './redis-server.ts';
import { type ServiceOptions, type ServiceRun, startService } from './services.ts';
import type { ProcessRun, SupervisedService } from './supervisor.ts';

/*
 * The embedded stack's processes as supervised services. Each restart comes back where clients
 * already look: the port of the first run (picked free when none was given) and the same data, so
 * ioredis, the pg pools, the LLM pool and BullMQ reconnect by themselves.
 */

/** A service every restart of which listens on the port its first run got (`port`, else a free one). */
function onFirstPort<H extends ProcessRun & { port: number }>(
  name: string,
  port: number | undefined,
  start: (port: number | undefined) => Promise<H>,
): SupervisedService<H> {
  let first = port;
  return {
    name,
    async start() {
      const handle = await start(first);
      first = handle.port;
      return handle;
    },
  };
}

/**
 * redis-server restarted on its port and data directory: it reloads its AOF, so every write it
 * acknowledged before being killed is there again (with `appendfsync: 'always'`, the default).
 */
export function redisService(
  opts: StartRedisServerOptions & { name?: string },
): SupervisedService<RedisServerHandle> {
  return onFirstPort(opts.name ?? 'redis-server', opts.port, (port) =>
    startRedisServer({ ...opts, ...(port === undefined ? {} : { port }) }),
  );
}

/**
 * PostgreSQL restarted on its port and data directory: it runs crash recovery from its WAL, so
 * every committed transaction is there again; the postmaster.pid a SIGKILL leaves is cleared first.
 */
export function postgresService(
  opts: StartPostgresOptions & { name?: string },
): SupervisedService<PostgresHandle> {
  return onFirstPort(opts.name ?? 'postgres', opts.port, (port) =>
    startPostgres({ ...opts, ...(port === undefined ? {} : { port }) }),
  );
}

export interface DeployableServiceOptions extends ServiceOptions {
  group?: string;
  /**
   * The environment variable that holds the port the deployable listens on (`PORT`, `SIM_PORT`):
   * restarts get the port of the first run there, also when the first run was asked for port 0.
   */
  portVariable?: string;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

/** One of the fleet's deployables (gateway, worker, simulator), restarted on the port it first bound. */
export function deployableService(opts: DeployableServiceOptions): SupervisedService<ServiceRun> {
  let port: number | undefined;
  const { group, portVariable, ...serviceOptions } = opts;
  return {
    name: opts.name,
    ...(group === undefined ? {} : { group }),
    async start() {
      const env =
        portVariable && port !== undefined ? { ...opts.env, [portVariable]: String(port) } : opts.env;
      const run = await startService({ ...serviceOptions, env });
      if (typeof run.info?.port === 'number') port = run.info.port;
      return run;
    },
  };
}
