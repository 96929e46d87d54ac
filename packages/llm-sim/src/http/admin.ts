import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { engineCapacity } from '../engine/config.ts';
import { faultConfigPatchSchema } from '../faults.ts';
import { describeZodError } from '../openai-schema.ts';
import { scriptSchema } from '../script.ts';
import { type SimContext, sendError } from './context.ts';

const requestsQuerySchema = z.object({
  user: z.string().min(1).optional(),
  contains: z.string().min(1).optional(),
});

/**
 * The `/sim/*` admin API:
 * - `GET|PUT /sim/config`: the fault knobs (PUT takes a partial update);
 * - `GET /sim/stats`, `POST /sim/stats/reset`: request counters, the usage reported in every answer
 *   completed (in all and per user), plus the engine's live state,
 *   cumulative counters and configured capacity (`engine`, not reset);
 * - `GET /sim/requests[?user=][&contains=]`: the latest chat requests as received (model,
 *   temperature, tool names, user, stream, priority, response format), oldest first, only those
 *   whose messages contain `contains` when given; emptied by `POST /sim/stats/reset`;
 * - `GET /sim/engine`: the engine constants and capacity (tokens/s at the best batch size);
 * - `GET|PUT /sim/script`: the fixtures of `script` mode (PUT replaces them);
 * - `POST /sim/die`: answers 202, then kills the server (every socket destroyed, listening stopped).
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: SimContext): void {
  const capacity = engineCapacity(ctx.engine.config);

  app.get('/sim/config', async () => ctx.faults.config);

  app.put('/sim/config', async (request, reply) => {
    const patch = faultConfigPatchSchema.safeParse(request.body ?? {});
    if (!patch.success) {
      const { message, param } = describeZodError(patch.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_config', param);
    }
    const config = ctx.faults.update(patch.data);
    request.log.info({ config }, 'fault config changed');
    return config;
  });

  const statsBody = () => ({ ...ctx.stats.snapshot(), engine: { ...ctx.engine.stats, capacity } });

  app.get('/sim/stats', async () => statsBody());

  app.post('/sim/stats/reset', async () => {
    ctx.stats.reset();
    ctx.requests.clear();
    return statsBody();
  });

  app.get('/sim/requests', async (request, reply) => {
    const query = requestsQuerySchema.safeParse(request.query ?? {});
    if (!query.success) {
      const { message, param } = describeZodError(query.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_query', param);
    }
    return { requests: ctx.requests.list(query.data.user, query.data.contains) };
  });

  app.get('/sim/engine', async () => ({ config: ctx.engine.config, capacity }));

  app.get('/sim/script', async () => ctx.script.remaining());

  app.put('/sim/script', async (request, reply) => {
    const body = request.body as unknown;
    const list = Array.isArray(body) ? body : (body as { fixtures?: unknown } | undefined)?.fixtures;
    const parsed = scriptSchema.safeParse(list);
    if (!parsed.success) {
      const { message, param } = describeZodError(parsed.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_script', param);
    }
    ctx.script.replace(parsed.data);
    return ctx.script.remaining();
  });

  app.post('/sim/die', async (_request, reply) => {
    reply.raw.once('finish', () => ctx.die());
    return reply.code(202).send({ dying: true });
  });
}
