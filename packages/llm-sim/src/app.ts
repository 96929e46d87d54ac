import type { Socket } from 'node:net';
import { FleetError } from '@agent-fleet/core';
import {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  fastify,
  LogController,
} from 'fastify';
import { z } from 'zod';
import { CONTENT_MODES, type ContentMode, createContentGenerator } from './content.ts';
import { DEFAULT_EMBEDDING_DIMENSIONS } from './embeddings.ts';
import { type Clock, realClock } from './engine/clock.ts';
import { type EngineConfig, engineConfigPatchSchema, resolveEngineConfig } from './engine/config.ts';
import { Engine } from './engine/engine.ts';
import { FaultInjector, type FaultRule, faultConfigPatchSchema } from './faults.ts';
import { registerAdminRoutes } from './http/admin.ts';
import { registerChatRoute } from './http/chat.ts';
import { registerCompletionsRoute } from './http/completions.ts';
import type { SimContext } from './http/context.ts';
import { sendError } from './http/context.ts';
import { registerEmbeddingsRoute } from './http/embeddings.ts';
import { SimMetrics } from './metrics.ts';
import { describeZodError } from './openai-schema.ts';
import { randomSeed } from './prng.ts';
import { RequestLog } from './request-log.ts';
import { type ScriptFixture, ScriptStore, scriptSchema } from './script.ts';
import { StatsRecorder } from './stats.ts';

export const DEFAULT_MODEL = 'fleet-sim';

/** Large enough for long conversations; vLLM itself has no small body limit. */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/** How long closing waits for cut-short requests to send their last bytes before dropping connections. */
const DRAIN_TIMEOUT_MS = 2000;

/** How a simulator behaves at start; fault knobs and the script can be changed later through `/sim/*`. */
export interface SimOptions {
  /** Model name served by `/v1/models` and used for metric labels (default `fleet-sim`). */
  model?: string;
  /** How replies are produced (default `echo`). */
  mode?: ContentMode;
  /** Engine constants and `timeScale` (defaults: an 8B model on one H100, real time). */
  engine?: Partial<EngineConfig>;
  /** Fixtures for `script` mode. */
  script?: ScriptFixture[];
  /** Width of `/v1/embeddings` vectors when the request gives no `dimensions` (default 384). */
  embeddingDimensions?: number;
  /** Base delay before every inference request enters the engine, in ms (default 0). */
  latencyMs?: number;
  /** Up to this much more per request, drawn uniformly, in ms (default 0). */
  latencyJitterMs?: number;
  /** Extra delay per generated token on the response path, in ms (default 0). */
  tokenLatencyMs?: number;
  /** Fraction (0..1) of inference requests that fail with HTTP 500 (default 0). */
  errorRate?: number;
  /** Fraction of inference requests rejected with HTTP 429 and `Retry-After` (default 0). */
  rate429?: number;
  /** `Retry-After` of simulated 429s, in seconds (default 1). */
  retryAfterSeconds?: number;
  /** Fraction of requests delayed by an extra `spikeMs` (default 0, 0). */
  spikeRate?: number;
  spikeMs?: number;
  /** Fraction of requests never answered (default 0). */
  hangRate?: number;
  /** Fraction of streamed answers cut mid-way (default 0). */
  dropStreamRate?: number;
  /** Fraction of document-review evidence quotes fabricated (default 0). */
  fabricatedQuoteRate?: number;
  /** Fraction of JSON answers cut short into invalid JSON (default 0). */
  brokenJsonRate?: number;
  /** The server dies as the n-th inference request arrives (default never). */
  dieAfterRequests?: number | null;
  /** Rules that slow down chosen requests (default none). */
  rules?: FaultRule[];
  /** Seed of the fault PRNG, for reproducible runs (default random; `GET /sim/config` shows it). */
  seed?: number;
  /** Where Fastify logs (per-request lines at debug level); default: no logging. */
  logger?: FastifyBaseLogger;
  /** The engine's clock (default: wall-clock time). */
  clock?: Clock;
}

const f = faultConfigPatchSchema.shape;
const simOptionsSchema = z.object({
  model: z.string().min(1).default(DEFAULT_MODEL),
  mode: z.enum(CONTENT_MODES).default('echo'),
  engine: engineConfigPatchSchema.default({}),
  script: scriptSchema.default([]),
  embeddingDimensions: z.number().int().min(1).max(8192).default(DEFAULT_EMBEDDING_DIMENSIONS),
  latencyMs: f.latencyMs.default(0),
  latencyJitterMs: f.latencyJitterMs.default(0),
  tokenLatencyMs: f.tokenLatencyMs.default(0),
  errorRate: f.errorRate.default(0),
  rate429: f.rate429.default(0),
  retryAfterSeconds: f.retryAfterSeconds.default(1),
  spikeRate: f.spikeRate.default(0),
  spikeMs: f.spikeMs.default(0),
  hangRate: f.hangRate.default(0),
  dropStreamRate: f.dropStreamRate.default(0),
  fabricatedQuoteRate: f.fabricatedQuoteRate.default(0),
  brokenJsonRate: f.brokenJsonRate.default(0),
  dieAfterRequests: f.dieAfterRequests.default(null),
  rules: f.rules.default([]),
  seed: f.seed,
});

/** Per-request log lines at debug level, so a load run does not flood the logs; errors stay at error. */
class QuietLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply, metadata);
      return;
    }
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** A built (not yet listening) simulator. */
export interface SimInstance {
  app: FastifyInstance;
  engine: Engine;
  /** Resolves when the server dies (`POST /sim/die`, `dieAfterRequests`); never when it just closes. */
  died: Promise<void>;
}

/**
 * Builds (without listening) a Fastify app that speaks the OpenAI API as vLLM serves it, backed by
 * a simulated vLLM engine, plus `/metrics` in vLLM's names and the `/sim/*` admin API. Each app has
 * its own engine, metrics registry and PRNG. Closing the app cuts pending requests short (503, or
 * the stream ends) and stops the engine. Throws a FleetError `invalid_config` on bad options.
 */
export function buildSim(opts: SimOptions = {}): SimInstance {
  const { logger, clock = realClock, ...rest } = opts;
  const parsed = simOptionsSchema.safeParse(rest);
  if (!parsed.success) {
    throw new FleetError(
      'invalid_config',
      `invalid simulator options: ${describeZodError(parsed.error).message}`,
    );
  }
  const o = parsed.data;
  let engineConfig: EngineConfig;
  try {
    engineConfig = resolveEngineConfig(o.engine);
  } catch (error) {
    throw new FleetError('invalid_config', `invalid simulator options: engine.${(error as Error).message}`, {
      cause: error,
    });
  }
  const metrics = new SimMetrics(o.model, engineConfig.maxModelLen, () => engine);
  const engine: Engine = new Engine(engineConfig, clock, metrics.observer);
  const script = new ScriptStore();
  script.replace(o.script);
  const faults = new FaultInjector({
    errorRate: o.errorRate,
    rate429: o.rate429,
    retryAfterSeconds: o.retryAfterSeconds,
    spikeRate: o.spikeRate,
    spikeMs: o.spikeMs,
    hangRate: o.hangRate,
    dropStreamRate: o.dropStreamRate,
    fabricatedQuoteRate: o.fabricatedQuoteRate,
    brokenJsonRate: o.brokenJsonRate,
    dieAfterRequests: o.dieAfterRequests,
    latencyMs: o.latencyMs,
    latencyJitterMs: o.latencyJitterMs,
    tokenLatencyMs: o.tokenLatencyMs,
    rules: o.rules,
    seed: o.seed ?? randomSeed(),
  });
  const shutdown = new AbortController();

  const app = fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new QuietLogController(),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: 'idle',
  });

  // Every socket, so dying can cut them all (in-flight streams included).
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let dead = false;
  let markDied: () => void = () => {};
  const died = new Promise<void>((resolve) => {
    markDied = resolve;
  });

  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  const ctx: SimContext = {
    modelName: o.model,
    engine,
    faults,
    stats: new StatsRecorder(),
    requests: new RequestLog(),
    metrics,
    script,
    generate: createContentGenerator(o.mode, script),
    shutdown: shutdown.signal,
    die: () => {
      if (dead) return;
      dead = true;
      app.log.warn('llm-sim dying: dropping every connection');
      app.server.close();
      for (const s of sockets) s.destroy();
      shutdown.abort();
      engine.close();
      markDied();
    },
    track: () => {
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        if (--inFlight === 0) onDrained?.();
      };
    },
  };

  // Like the default parser (with its prototype-poisoning checks), but an empty body means "no body".
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson.call(app, request, text, done);
  });

  // Closing cuts pending requests short, waits (briefly) for those responses to go out, then drops every
  // connection: idle keep-alive sockets and sockets a client opened ahead of time would otherwise
  // hold `close()` up until the client's own keep-alive timeout.
  app.addHook('preClose', async () => {
    shutdown.abort();
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        onDrained = resolve;
        setTimeout(resolve, DRAIN_TIMEOUT_MS).unref();
      });
    }
    app.server.closeAllConnections();
  });
  app.addHook('onClose', async () => engine.close());

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return sendError(reply, status, 'internal server error', 'server_error', 'internal');
    }
    const code = error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'invalid_json' : 'invalid_request';
    return sendError(reply, status, error.message, 'invalid_request_error', code);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `no route for ${request.method} ${request.url}`, 'not_found_error', 'not_found'),
  );

  app.get('/health', async (_request, reply) => reply.code(200).send());

  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [
      {
        id: o.model,
        object: 'model',
        created: Math.floor(Date.now() / 1000),
        owned_by: 'agent-fleet',
        root: o.model,
        parent: null,
        max_model_len: engine.config.maxModelLen,
      },
    ],
  }));

  registerChatRoute(app, ctx);
  registerCompletionsRoute(app, ctx);
  registerEmbeddingsRoute(app, ctx, o.embeddingDimensions);
  registerAdminRoutes(app, ctx);

  return { app, engine, died };
}

/** {@link buildSim}, returning only the Fastify app. */
export function buildSimApp(opts: SimOptions = {}): FastifyInstance {
  return buildSim(opts).app;
}
