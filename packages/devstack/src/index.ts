export { freePort } from './free-port.ts';
export {
  type PostgresHandle,
  type StartPostgresOptions,
  startPostgres,
} from './postgres-server.ts';
export { describeExit, type ExitStatus } from './process-tools.ts';
export {
  type ClusterNodeView,
  parseClusterNodes,
  type RedisClusterHandle,
  type StartRedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.ts';
export {
  type AppendFsyncPolicy,
  type RedisServerHandle,
  type StartRedisServerOptions,
  startRedisServer,
} from './redis-server.ts';
export { DEFAULT_RESTART_BACKOFF, type RestartBackoff, restartDelayMs } from './restart-backoff.ts';
export {
  type ListeningInfo,
  type ServiceHandle,
  type ServiceOptions,
  type ServiceRun,
  spawnService,
  startService,
} from './services.ts';
export {
  type DeployableServiceOptions,
  deployableService,
  postgresService,
  redisService,
} from './supervised-services.ts';
export {
  type ExitEvent,
  type ProcessRun,
  type ReadyEvent,
  type RestartCause,
  type RestartEvent,
  type ServiceState,
  type ServiceStatus,
  type SupervisedService,
  Supervisor,
  type SupervisorEvents,
  type SupervisorOptions,
} from './supervisor.ts';
export { formatDuration, formatReady, formatRestart, logSupervisor } from './supervisor-log.ts';
