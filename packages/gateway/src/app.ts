import { FleetError } from '@agent-fleet/core';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { authPlugin } from './auth/plugin.ts';
import { registerBullBoard } from './bull-board.ts';
import type { GatewayDeps } from './deps.ts';
import { errorHandler, sendError, toFleetError } from './errors.ts';
import { httpServerOptions } from './http-server.ts';
import { registerOpenApi } from './openapi.ts';
import { requestTracingPlugin } from './request-tracing.ts';
import { adminFleetRoutes } from './routes/admin-fleet.ts';
import { adminLoginRoutes } from './routes/admin-login.ts';
import { documentRoutes } from './routes/documents.ts';
import { healthRoutes } from './routes/health.ts';
import { keyRoutes } from './routes/keys.ts';
import { messageRoutes } from './routes/messages.ts';
import { openAiRoutes } from './routes/openai.ts';
import { profileRoutes } from './routes/profiles.ts';
import { quotaRoutes } from './routes/quotas.ts';
import { reviewEventRoutes } from './routes/review-events.ts';
import { reviewScheduleRoutes } from './routes/review-schedules.ts';
import { reviewRoutes } from './routes/reviews.ts';
import { turnEventRoutes } from './routes/turn-events.ts';
import { turnRoutes } from './routes/turns.ts';
import { usageRoutes } from './routes/usage.ts';
import { refuseUnstorableInput } from './storable-input.ts';

/**
 * The gateway's HTTP app: routes, one error shape, request metrics, the OpenAPI document at /docs,
 * Bull Board behind an admin sign-in, and the OpenAI-compatible routes.
 */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // The text limit is checked per field; the body limit only stops abuse before parsing.
    bodyLimit: Math.max(1024 * 1024, deps.config.MAX_MESSAGE_BYTES * 4 + 4096),
    // Timeouts, TRUST_PROXY, and the error shape for what Node's HTTP parser refuses.
    ...httpServerOptions(deps.config, deps.logger),
    // userId may be 128 characters; longer ones get a validation error that names the field.
    routerOptions: { maxParamLength: 512 },
    // A URL Fastify cannot decode (bad percent-encoding) gets the one error shape too.
    frameworkErrors: (err, _req, reply) => sendError(reply, toFleetError(err)),
  });
  // The API speaks JSON only; anything else is a 415 rather than a string to validate.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new FleetError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );
  app.addHook('preValidation', refuseUnstorableInput);
  // Open event streams would hold the server open: end them first (clients resume elsewhere).
  app.addHook('preClose', async () => deps.streams.endAll());
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.http.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // A span per request, active while its route runs (nothing when tracing is off).
  await app.register(requestTracingPlugin);
  // The OpenAPI document collects the routes registered after it.
  await registerOpenApi(app);
  await app.register(cookie);
  await app.register(multipart, {
    limits: { fileSize: deps.config.MAX_DOCUMENT_BYTES, files: 1, fields: 20 },
  });
  // Before every route: credentials, /admin needs admin, per-user and per-key rate limits.
  await app.register(authPlugin, {
    ...deps.auth,
    config: deps.config,
    logger: deps.logger,
    sessions: deps.sessions,
  });
  await app.register(healthRoutes, deps);
  await app.register(messageRoutes, deps);
  await app.register(turnRoutes, deps);
  await app.register(turnEventRoutes, deps);
  await app.register(profileRoutes, deps);
  await app.register(quotaRoutes, deps);
  await app.register(usageRoutes, deps);
  await app.register(documentRoutes, deps);
  await app.register(reviewRoutes, deps);
  await app.register(reviewEventRoutes, deps);
  await app.register(reviewScheduleRoutes, deps);
  await app.register(openAiRoutes, deps);
  await app.register(keyRoutes, deps);
  await app.register(adminFleetRoutes, deps);
  await app.register(adminLoginRoutes, deps);
  await registerBullBoard(app, [...deps.partitions.queues, ...deps.reviewQueues.queues], deps.logger);
  return app;
}
