export {
  type PostgresHandle,
  type StartPostgresOptions,
  startPostgres,
} from './postgres-server.ts';
export { type RedisServerHandle, type StartRedisServerOptions, startRedisServer } from './redis-server.ts';
export { type ListeningInfo, type ServiceHandle, type ServiceOptions, spawnService } from './services.ts';
