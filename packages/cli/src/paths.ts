import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/cli/src/paths.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Entry points of the deployables the launcher runs as child processes. */
export const SERVICE_SCRIPTS = {
  gateway: fileURLToPath(new URL('../../gateway/src/main.ts', import.meta.url)),
  worker: fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url)),
  llmSim: fileURLToPath(new URL('../../llm-sim/src/main.ts', import.meta.url)),
} as const;
