import { llmReadiness } from '@agent-fleet/llm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayDeps } from '../deps.ts';
import { PUBLIC_ROUTE } from '../openapi.ts';

const readinessSchema = z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.object({ redis: z.string(), postgres: z.string(), llm: z.string() }),
});

const CHECK_NAMES = ['redis', 'postgres', 'llm'] as const;
type CheckName = (typeof CHECK_NAMES)[number];

const readinessQuery = z.object({
  exclude: z
    .string()
    .regex(
      new RegExp(`^(${CHECK_NAMES.join('|')})(,(${CHECK_NAMES.join('|')}))*$`),
      `a comma-separated list of ${CHECK_NAMES.join(', ')}`,
    )
    .optional()
    .describe(
      'checks reported but not counted, e.g. `llm` for a load balancer: an LLM outage leaves the gateway serving (messages are still accepted and queued)',
    ),
});

/**
 * Liveness, readiness (Redis and Postgres answer, and an LLM server is healthy as the last periodic
 * health check saw it: no turn can finish without one) and Prometheus metrics. `/readyz?exclude=llm`
 * (as kube-apiserver's `/readyz?exclude=etcd`) still reports every check but leaves the excluded ones
 * out of the status: the Kubernetes readiness probe uses it, so an LLM outage does not take every
 * gateway out of its Service while the routes that need no model (and message intake) keep working.
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
      querystring: readinessQuery,
      response: { 200: readinessSchema, 503: readinessSchema },
    },
  };
  app.get('/readyz', readyz, async (req, reply) => {
    const excluded = new Set((req.query.exclude ?? '').split(',').filter(Boolean) as CheckName[]);
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
    const checks: Record<CheckName, string> = { redis, postgres, llm: llm.check };
    const ready = CHECK_NAMES.every((name) => excluded.has(name) || checks[name] === 'ok');
    for (const name of excluded) checks[name] = `${checks[name]} (excluded)`;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
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
