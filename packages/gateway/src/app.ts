import { FleetError } from '@agent-fleet/core';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { authPlugin } from './auth/plugin.ts';
import { registerBullBoard } from './bull-board.ts';
import type { GatewayDeps } from './deps.ts';
import { errorHandler, sendError } from './errors.ts';
import { documentRoutes } from './routes/documents.ts';
import { healthRoutes } from './routes/health.ts';
import { messageRoutes } from './routes/messages.ts';
import { profileRoutes } from './routes/profiles.ts';
import { turnRoutes } from './routes/turns.ts';

/** The gateway's HTTP app: routes, one error shape, request metrics, Bull Board. */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    disableRequestLogging: true,
    // The text limit is checked per field; the body limit only stops abuse before parsing.
    bodyLimit: Math.max(1024 * 1024, deps.config.MAX_MESSAGE_BYTES * 4 + 4096),
    trustProxy: true,
    // userId may be 128 characters; longer ones get a validation error that names the field.
    maxParamLength: 512,
  });
  // The API speaks JSON only; anything else is a 415 rather than a string to validate.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new FleetError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.http.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(multipart, {
    limits: { fileSize: deps.config.MAX_DOCUMENT_BYTES, files: 1, fields: 20 },
  });
  // Before every route: credentials, /admin needs admin, per-user and per-key rate limits.
  await app.register(authPlugin, {
    pool: deps.pool,
    redis: deps.redis,
    config: deps.config,
    logger: deps.logger,
  });
  await app.register(healthRoutes, deps);
  await app.register(messageRoutes, deps);
  await app.register(turnRoutes, deps);
  await app.register(profileRoutes, deps);
  await app.register(documentRoutes, deps);
  await registerBullBoard(app, deps.partitions.queues);
  return app;
}
