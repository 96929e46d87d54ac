import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { CONTENT_MODES, type ContentMode, createContentGenerator, splitIntoTokens } from './content.ts';
import { type FaultConfig, FaultInjector, type FaultRule, faultConfigPatchSchema } from './faults.ts';
import { type CompletedRequest, SimMetrics } from './metrics.ts';
import {
  chatRequestSchema,
  describeZodError,
  estimateTokens,
  lastUserText,
  messageText,
  type OpenAiErrorType,
  openAiError,
} from './openai-schema.ts';
import { randomSeed } from './prng.ts';
import { StatsRecorder } from './stats.ts';

export const DEFAULT_MODEL = 'fleet-sim';

/** Large enough for long conversations; vLLM itself has no small body limit. */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/** How long closing waits for cut-short requests to send their last bytes before dropping connections. */
const DRAIN_TIMEOUT_MS = 2000;

/** How a simulator behaves at start; the fault knobs can be changed later through `PUT /sim/config`. */
export interface SimOptions {
  /** Model name served by `/v1/models` and used for metric labels (default `fleet-sim`). */
  model?: string;
  /** How replies are produced (default `echo`). */
  mode?: ContentMode;
  /** Base delay before every chat reply, in ms (default 0). */
  latencyMs?: number;
  /** Extra delay per generated token, in ms (default 0). */
  tokenLatencyMs?: number;
  /** Fraction (0..1) of chat requests that fail with HTTP 500 (default 0). */
  errorRate?: number;
  /** Rules that slow down chosen requests (default none). */
  rules?: FaultRule[];
  /** Seed of the failure PRNG, for reproducible runs (default random; `GET /sim/config` shows it). */
  seed?: number;
  /** Where Fastify logs (per-request lines at debug level); default: no logging. */
  logger?: FastifyBaseLogger;
}

const simOptionsSchema = z.object({
  model: z.string().min(1).default(DEFAULT_MODEL),
  mode: z.enum(CONTENT_MODES).default('echo'),
  latencyMs: faultConfigPatchSchema.shape.latencyMs.default(0),
  tokenLatencyMs: faultConfigPatchSchema.shape.tokenLatencyMs.default(0),
  errorRate: faultConfigPatchSchema.shape.errorRate.default(0),
  rules: faultConfigPatchSchema.shape.rules.default([]),
  seed: faultConfigPatchSchema.shape.seed,
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

function firstHeader(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Resolves after `ms` (at once when 0); rejects with an AbortError when `signal` fires first. */
async function delay(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (ms > 0) await sleep(ms, undefined, { signal });
}

function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  type: OpenAiErrorType,
  code: string | null = null,
  param: string | null = null,
): FastifyReply {
  return reply.code(status).send(openAiError(message, type, code, param));
}

/**
 * Builds (without listening) a Fastify app that speaks the OpenAI chat API as vLLM serves it,
 * plus `/metrics` in vLLM's names and the `/sim/*` admin API. Each app has its own state, metrics
 * registry and PRNG. Delays use timers, so a slow request never holds up others; closing the app
 * cuts pending delays short. Throws a FleetError `invalid_config` on bad options.
 */
export function buildSimApp(opts: SimOptions = {}): FastifyInstance {
  const { logger, ...rest } = opts;
  const parsed = simOptionsSchema.safeParse(rest);
  if (!parsed.success) {
    throw new FleetError(
      'invalid_config',
      `invalid simulator options: ${describeZodError(parsed.error).message}`,
    );
  }
  const options = parsed.data;
  const modelName = options.model;
  const generate = createContentGenerator(options.mode);
  const faults = new FaultInjector({
    errorRate: options.errorRate,
    latencyMs: options.latencyMs,
    tokenLatencyMs: options.tokenLatencyMs,
    rules: options.rules,
    seed: options.seed ?? randomSeed(),
  });
  const stats = new StatsRecorder();
  const metrics = new SimMetrics(modelName);
  /** Fires when the app starts closing, so pending delays end instead of holding the close up. */
  const shutdown = new AbortController();

  const app = fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new QuietLogController(),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: 'idle',
  });

  // Like the default parser (with its prototype-poisoning checks), but an empty body means "no body".
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson.call(app, request, text, done);
  });

  // Closing cuts pending delays short, waits (briefly) for those responses to go out, then drops every
  // connection: idle keep-alive sockets and sockets a client opened ahead of time would otherwise
  // hold `close()` up until the client's own keep-alive timeout.
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
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
      { id: modelName, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'agent-fleet' },
    ],
  }));

  app.post('/v1/chat/completions', async (request, reply) => {
    const parsedBody = chatRequestSchema.safeParse(request.body);
    if (!parsedBody.success) {
      const { message, param } = describeZodError(parsedBody.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_request', param);
    }
    const body = parsedBody.data;
    const bodyUser = body.user ?? undefined;
    const headerUser = firstHeader(request.headers['x-user-id']);
    stats.recordRequest(bodyUser ?? headerUser);
    const plan = faults.plan({ user: bodyUser, headerUser, lastUserText: lastUserText(body.messages) });

    const startedAt = performance.now();
    let completed: CompletedRequest | undefined;
    const clientGone = new AbortController();
    const signal = AbortSignal.any([clientGone.signal, shutdown.signal]);
    metrics.requestStarted();
    inFlight++;
    const onClose = () => {
      clientGone.abort();
      metrics.requestEnded();
      if (--inFlight === 0) onDrained?.();
      if (completed && reply.raw.writableFinished) metrics.requestCompleted(completed);
    };
    if (reply.raw.closed) {
      onClose();
      reply.hijack();
      return reply;
    }
    reply.raw.once('close', onClose);

    try {
      await delay(plan.delayMs, signal);
    } catch (error) {
      if (!isAbortError(error)) throw error;
      // Closing: tell the client. Client gone: nobody reads this, and Node discards the write.
      return sendError(reply, 503, 'simulator is shutting down', 'server_error', 'unavailable');
    }
    if (plan.fail) {
      stats.recordFailure();
      return sendError(reply, 500, 'simulated failure', 'server_error');
    }

    const model = body.model ?? modelName;
    const content = generate({ model, messages: body.messages });
    const promptTokens = estimateTokens(body.messages.map(messageText).join(''));
    const completionTokens = estimateTokens(content);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const complete = (): void => {
      completed = {
        finishedReason: 'stop',
        promptTokens,
        completionTokens,
        latencySeconds: (performance.now() - startedAt) / 1000,
      };
    };

    if (!body.stream) {
      try {
        await delay(plan.tokenLatencyMs * completionTokens, signal);
      } catch (error) {
        if (!isAbortError(error)) throw error;
        return sendError(reply, 503, 'simulator is shutting down', 'server_error', 'unavailable');
      }
      complete();
      return reply.send({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          { index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' },
        ],
        usage,
      });
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
    const delta = (d: Record<string, unknown>, finishReason: string | null = null) => [
      { index: 0, delta: d, logprobs: null, finish_reason: finishReason },
    ];
    const usageField = includeUsage ? { usage: null } : {};
    const tokenLatencyMs = plan.tokenLatencyMs;
    async function* events(): AsyncGenerator<string> {
      yield chunk(delta({ role: 'assistant', content: '' }), usageField);
      try {
        for (const piece of splitIntoTokens(content)) {
          await delay(tokenLatencyMs, signal);
          yield chunk(delta({ content: piece }), usageField);
        }
      } catch (error) {
        // Client gone or simulator closing: end the stream without [DONE], as a cut-off server would.
        if (isAbortError(error)) return;
        throw error;
      }
      complete();
      yield chunk(delta({}, 'stop'), usageField);
      if (includeUsage) yield chunk([], { usage });
      yield 'data: [DONE]\n\n';
    }
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(Readable.from(events()));
  });

  app.get('/sim/config', async () => faults.config);

  app.put('/sim/config', async (request, reply) => {
    const patch = faultConfigPatchSchema.safeParse(request.body ?? {});
    if (!patch.success) {
      const { message, param } = describeZodError(patch.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_config', param);
    }
    const config: FaultConfig = faults.update(patch.data);
    request.log.info({ config }, 'fault config changed');
    return config;
  });

  app.get('/sim/stats', async () => stats.snapshot());

  app.post('/sim/stats/reset', async () => {
    stats.reset();
    return stats.snapshot();
  });

  return app;
}
