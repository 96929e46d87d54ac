import { createLogger, loadConfig, orExitAtStartup } from '@agent-fleet/core';
import { startTracing } from '@agent-fleet/telemetry';
import { buildGateway } from './app.ts';
import { BULL_BOARD_PATH } from './bull-board.ts';
import { createGatewayDeps } from './deps.ts';
import { DOCS_PATH } from './openapi.ts';

const logger = createLogger('gateway');

const config = orExitAtStartup('gateway', loadConfig);
// Traces over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing started when not.
const tracing = orExitAtStartup('gateway', () => startTracing({ serviceName: 'fleet-gateway' }));
const deps = await createGatewayDeps(config, logger);
const app = await buildGateway(deps);
const url = await app.listen({ host: config.HOST, port: config.PORT });
const { port } = app.server.address() as { port: number };
process.stdout.write(
  `${JSON.stringify({ event: 'listening', url, port, bullBoard: BULL_BOARD_PATH, docs: DOCS_PATH })}\n`,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await app.close();
  await deps.close();
  await tracing.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
