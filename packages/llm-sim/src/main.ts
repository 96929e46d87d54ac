/**
 * Deployable: an OpenAI-compatible vLLM simulator configured from `SIM_*` environment variables.
 * Prints exactly one `{"event":"listening","url":…,"port":…}` line on stdout once bound (launchers
 * parse it); everything else is pino logs. SIGTERM/SIGINT close the server and exit 0; a simulated
 * death (`POST /sim/die`, `SIM_DIE_AFTER_REQUESTS`) exits 1, as a crashed server would.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '@agent-fleet/core';
import { z } from 'zod';
import { CONTENT_MODES } from './content.ts';
import { DEFAULT_EMBEDDING_DIMENSIONS } from './embeddings.ts';
import {
  DEFAULT_ENGINE_CONFIG,
  type EngineConfig,
  engineCapacity,
  resolveEngineConfig,
} from './engine/config.ts';
import { MAX_DELAY_MS } from './faults.ts';
import { scriptSchema } from './script.ts';
import { startSim } from './server.ts';

/** Unset and empty variables both mean "use the default". */
const blankToUndefined = (value: unknown) => (value === '' ? undefined : value);
const num = (schema: z.ZodNumber) => z.preprocess(blankToUndefined, z.coerce.number().pipe(schema));
const rate = () => num(z.number().min(0).max(1)).default(0);
const delay = () => num(z.number().min(0).max(MAX_DELAY_MS)).default(0);
const bool = z.preprocess(
  blankToUndefined,
  z
    .enum(['true', 'false', '1', '0'], { error: 'use true or false' })
    .transform((v) => v === 'true' || v === '1'),
);
const d = DEFAULT_ENGINE_CONFIG;

/** Engine constants: variable name → config field. */
const ENGINE_VARS = {
  SIM_MAX_NUM_SEQS: 'maxNumSeqs',
  SIM_MAX_BATCHED_TOKENS: 'maxBatchedTokens',
  SIM_KV_CACHE_TOKENS: 'kvCacheTokens',
  SIM_BLOCK_SIZE: 'blockSize',
  SIM_MAX_MODEL_LEN: 'maxModelLen',
  SIM_ENABLE_PREFIX_CACHING: 'enablePrefixCaching',
  SIM_PREFILL_OVERHEAD_MS: 'prefillOverheadMs',
  SIM_PREFILL_MS_PER_TOKEN: 'prefillMsPerToken',
  SIM_ITL_MS: 'itlMs',
  SIM_TIME_FACTOR_UNDER_LOAD: 'timeFactorUnderLoad',
  SIM_TIME_SCALE: 'timeScale',
} as const satisfies Record<string, keyof EngineConfig>;

const simEnvSchema = z.object({
  SIM_PORT: num(z.number().int().min(0).max(65535)).default(8000),
  SIM_HOST: z.preprocess(blankToUndefined, z.string().min(1)).default('127.0.0.1'),
  SIM_MODEL: z.preprocess(blankToUndefined, z.string().min(1)).default('fleet-sim'),
  SIM_MODE: z.preprocess(blankToUndefined, z.enum(CONTENT_MODES)).default('echo'),
  /** A JSON file with the fixtures of `script` mode. */
  SIM_SCRIPT_FILE: z.preprocess(blankToUndefined, z.string().min(1)).optional(),
  SIM_EMBEDDING_DIMENSIONS: num(z.number().int().min(1).max(8192)).default(DEFAULT_EMBEDDING_DIMENSIONS),
  SIM_SEED: num(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
  ).optional(),
  // Faults.
  SIM_LATENCY_MS: delay(),
  SIM_LATENCY_JITTER_MS: delay(),
  SIM_TOKEN_LATENCY_MS: delay(),
  SIM_ERROR_RATE: rate(),
  SIM_RATE_429: rate(),
  SIM_RETRY_AFTER_SECONDS: num(z.number().int().min(0).max(3600)).default(1),
  SIM_SPIKE_RATE: rate(),
  SIM_SPIKE_MS: delay(),
  SIM_HANG_RATE: rate(),
  SIM_DROP_STREAM_RATE: rate(),
  SIM_FABRICATED_QUOTE_RATE: rate(),
  SIM_BROKEN_JSON_RATE: rate(),
  SIM_DIE_AFTER_REQUESTS: num(z.number().int().min(1)).optional(),
  // Engine.
  SIM_MAX_NUM_SEQS: num(z.number().int().min(1).max(65_536)).default(d.maxNumSeqs),
  SIM_MAX_BATCHED_TOKENS: num(z.number().int().min(1).max(1_048_576)).default(d.maxBatchedTokens),
  SIM_KV_CACHE_TOKENS: num(z.number().int().min(1).max(100_000_000)).default(d.kvCacheTokens),
  SIM_BLOCK_SIZE: num(z.number().int().min(1).max(1024)).default(d.blockSize),
  SIM_MAX_MODEL_LEN: num(z.number().int().min(1).max(10_000_000)).optional(),
  SIM_ENABLE_PREFIX_CACHING: bool.default(d.enablePrefixCaching),
  SIM_PREFILL_OVERHEAD_MS: num(z.number().min(0).max(60_000)).default(d.prefillOverheadMs),
  SIM_PREFILL_MS_PER_TOKEN: num(z.number().min(0).max(60_000)).default(d.prefillMsPerToken),
  SIM_ITL_MS: num(z.number().min(0).max(60_000)).default(d.itlMs),
  SIM_TIME_FACTOR_UNDER_LOAD: num(z.number().min(1).max(1000)).default(d.timeFactorUnderLoad),
  SIM_TIME_SCALE: num(z.number().min(0).max(1000)).default(d.timeScale),
});

function fail(variable: string, message: string): never {
  process.stderr.write(`llm-sim: invalid ${variable}=${JSON.stringify(process.env[variable])}: ${message}\n`);
  process.exit(1);
}

const parsed = simEnvSchema.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) {
    const variable = String(issue.path[0]);
    process.stderr.write(
      `llm-sim: invalid ${variable}=${JSON.stringify(process.env[variable])}: ${issue.message}\n`,
    );
  }
  process.exit(1);
}
const env = parsed.data;

const engine: Partial<EngineConfig> = {};
for (const [variable, field] of Object.entries(ENGINE_VARS)) {
  const value = env[variable as keyof typeof ENGINE_VARS];
  if (value !== undefined) (engine as Record<string, unknown>)[field] = value;
}
try {
  resolveEngineConfig(engine);
} catch (error) {
  // Cross-field checks name the config field first ("maxModelLen: ..."); report its variable.
  const message = (error as Error).message;
  const field = message.split(':')[0];
  const variable = Object.entries(ENGINE_VARS).find(([, f]) => f === field)?.[0] ?? 'SIM_KV_CACHE_TOKENS';
  fail(variable, message);
}

let script: z.input<typeof scriptSchema> = [];
if (env.SIM_SCRIPT_FILE) {
  try {
    script = scriptSchema.parse(JSON.parse(readFileSync(env.SIM_SCRIPT_FILE, 'utf8')));
  } catch (error) {
    fail('SIM_SCRIPT_FILE', `cannot load the fixtures: ${(error as Error).message}`);
  }
}

const log = createLogger('llm-sim');

const sim = await startSim({
  host: env.SIM_HOST,
  port: env.SIM_PORT,
  model: env.SIM_MODEL,
  mode: env.SIM_MODE,
  script,
  embeddingDimensions: env.SIM_EMBEDDING_DIMENSIONS,
  engine,
  latencyMs: env.SIM_LATENCY_MS,
  latencyJitterMs: env.SIM_LATENCY_JITTER_MS,
  tokenLatencyMs: env.SIM_TOKEN_LATENCY_MS,
  errorRate: env.SIM_ERROR_RATE,
  rate429: env.SIM_RATE_429,
  retryAfterSeconds: env.SIM_RETRY_AFTER_SECONDS,
  spikeRate: env.SIM_SPIKE_RATE,
  spikeMs: env.SIM_SPIKE_MS,
  hangRate: env.SIM_HANG_RATE,
  dropStreamRate: env.SIM_DROP_STREAM_RATE,
  fabricatedQuoteRate: env.SIM_FABRICATED_QUOTE_RATE,
  brokenJsonRate: env.SIM_BROKEN_JSON_RATE,
  dieAfterRequests: env.SIM_DIE_AFTER_REQUESTS ?? null,
  seed: env.SIM_SEED,
  logger: log,
}).catch((error: unknown) => {
  log.fatal({ err: error }, 'llm-sim failed to start');
  process.exit(1);
});

process.stdout.write(`${JSON.stringify({ event: 'listening', url: sim.url, port: sim.port })}\n`);
// The seed is in the config, so a run with a random seed can be reproduced.
const config: unknown = (await sim.app.inject({ method: 'GET', url: '/sim/config' })).json();
log.info(
  {
    url: sim.url,
    model: env.SIM_MODEL,
    mode: env.SIM_MODE,
    config,
    engine: sim.engine.config,
    capacity: engineCapacity(sim.engine.config),
  },
  'llm-sim listening',
);

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
void sim.died.then(() => {
  if (stopping) return;
  log.warn('llm-sim died (simulated crash); exiting 1');
  process.exit(1);
});
