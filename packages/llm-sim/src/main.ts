/**
 * Deployable: an OpenAI-compatible LLM simulator configured from `SIM_*` environment variables.
 * Prints exactly one `{"event":"listening","url":…,"port":…}` line on stdout once bound (launchers
 * parse it); everything else is pino logs. SIGTERM/SIGINT close the server and exit 0.
 */
import { createLogger } from '@agent-fleet/core';
import { z } from 'zod';
import { CONTENT_MODES } from './content.ts';
import { MAX_DELAY_MS } from './faults.ts';
import { startSim } from './server.ts';

/** Unset and empty variables both mean "use the default". */
const blankToUndefined = (value: unknown) => (value === '' ? undefined : value);
const num = (schema: z.ZodNumber) => z.preprocess(blankToUndefined, z.coerce.number().pipe(schema));

const simEnvSchema = z.object({
  SIM_PORT: num(z.number().int().min(0).max(65535)).default(8000),
  SIM_HOST: z.preprocess(blankToUndefined, z.string().min(1)).default('127.0.0.1'),
  SIM_MODEL: z.preprocess(blankToUndefined, z.string().min(1)).default('fleet-sim'),
  SIM_LATENCY_MS: num(z.number().min(0).max(MAX_DELAY_MS)).default(0),
  SIM_TOKEN_LATENCY_MS: num(z.number().min(0).max(MAX_DELAY_MS)).default(0),
  SIM_ERROR_RATE: num(z.number().min(0).max(1)).default(0),
  SIM_SEED: num(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
  ).optional(),
  SIM_MODE: z.preprocess(blankToUndefined, z.enum(CONTENT_MODES)).default('echo'),
});

const parsed = simEnvSchema.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) {
    const value = process.env[String(issue.path[0])];
    process.stderr.write(
      `llm-sim: invalid ${issue.path.join('.')}=${JSON.stringify(value)}: ${issue.message}\n`,
    );
  }
  process.exit(1);
}
const env = parsed.data;
const log = createLogger('llm-sim');

const sim = await startSim({
  host: env.SIM_HOST,
  port: env.SIM_PORT,
  model: env.SIM_MODEL,
  mode: env.SIM_MODE,
  latencyMs: env.SIM_LATENCY_MS,
  tokenLatencyMs: env.SIM_TOKEN_LATENCY_MS,
  errorRate: env.SIM_ERROR_RATE,
  seed: env.SIM_SEED,
  logger: log,
}).catch((error: unknown) => {
  log.fatal({ err: error }, 'llm-sim failed to start');
  process.exit(1);
});

process.stdout.write(`${JSON.stringify({ event: 'listening', url: sim.url, port: sim.port })}\n`);
// The seed is in the config, so a run with a random seed can be reproduced.
const config: unknown = (await sim.app.inject({ method: 'GET', url: '/sim/config' })).json();
log.info({ url: sim.url, model: env.SIM_MODEL, mode: env.SIM_MODE, config }, 'llm-sim listening');

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'llm-sim shutting down');
  sim.close().then(
    () => process.exit(0),
    (error: unknown) => {
      log.error({ err: error }, 'llm-sim failed to close cleanly');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
