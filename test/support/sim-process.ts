import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServiceHandle, spawnService } from '@agent-fleet/devstack';

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The simulator as its own process on a fixed port, so it can die and come back at the same URL. */
export function simProcess(port: number, run: number, env: Record<string, string> = {}): ServiceHandle {
  return spawnService({
    name: `llm-sim-${run}`,
    script: join(root, 'packages/llm-sim/src/main.ts'),
    env: {
      PATH: process.env.PATH ?? '',
      SIM_PORT: String(port),
      SIM_TIME_SCALE: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    readyEvent: 'listening',
    logFile: join(root, '.fleet', 'test-logs', `llm-sim-${port}-${run}.log`),
  });
}
