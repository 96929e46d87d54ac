import { llmReadiness } from '@agent-fleet/llm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayDeps } from '../deps.ts';
import { PUBLIC_ROUTE } from '../openapi.ts';

const readinessSchema = z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.object({ redis: z.string(), postgres: z.string(), llm: z.string() }),
});

/**
 * Liveness, readiness (Redis and Postgres answer, and an LLM server is healthy as the last periodic
 * health check saw it: no turn can finish without one) and Prometheus metrics.
 */
export const healthRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        security: PUBLIC_ROUTE,
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const readyz = {
    schema: {
      tags: ['operations'],
      summary: 'Readiness: Redis and Postgres answer, and an LLM server is healthy',
      security: PUBLIC_ROUTE,
      response: { 200: readinessSchema, 503: readinessSchema },
    },
  };
  app.get('/readyz', readyz, async (_req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return 'ok';
      } catch (err) {
        return `down: ${(err as Error).message}`;
      }
    };
    const [redis, postgres] = await Promise.all([
      check(() => deps.redis.ping()),
      check(() => deps.pool.query('SELECT 1')),
    ]);
    const llm = llmReadiness({ healthy: deps.llmHealth.healthy, total: deps.llmHealth.urls.length });
    const ready = redis === 'ok' && postgres === 'ok' && llm.ok;
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', checks: { redis, postgres, llm: llm.check } });
  });

  const metrics = {
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics, including fleet_queue_backlog{queue}',
      security: PUBLIC_ROUTE,
      produces: ['text/plain'],
    },
  };
  app.get('/metrics', metrics, async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
