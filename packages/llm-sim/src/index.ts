export { buildSimApp, DEFAULT_MODEL, type SimOptions } from './app.ts';
export { CONTENT_MODES, type ContentGenerator, type ContentMode, type ContentRequest } from './content.ts';
export { type FaultConfig, type FaultConfigPatch, type FaultRule, MAX_DELAY_MS } from './faults.ts';
export { type RunningSim, type StartSimOptions, startSim } from './server.ts';
export type { SimStats } from './stats.ts';
