export { freePort } from '@agent-fleet/devstack';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServiceHandle, spawnService } from '@agent-fleet/devstack';

const root = fileURLToPath(new URL('../../', import.meta.url));

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
