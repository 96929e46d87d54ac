import { fleetSnapshotSchema } from '@agent-fleet/core';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses } from '../schemas.ts';

/**
 * The fleet at a glance, read-only, for operators (`fleet top` draws it): every work queue's backlog
 * and oldest waiting job, every live worker with its turns in flight, each LLM server over the last
 * minute, the slowest running turns with their current stage, tenants by tokens per minute.
 */
export const adminFleetRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.get(
    '/v1/admin/fleet',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['operations'],
        summary: 'The fleet now: queues, workers, LLM servers, the slowest running turns, tenants',
        description:
          'Queues come from the backlog KEDA scales on; workers, LLM servers, running turns and tenants ' +
          'from the heartbeats workers write every second (a worker that stops writing drops out within ' +
          'seconds). Per-minute figures cover the workers’ last minute. Any gateway answers the same.',
        response: { 200: fleetSnapshotSchema.meta({ id: 'FleetSnapshot' }), ...errorResponses },
      },
    },
    async () => deps.fleet.snapshot(),
  );
};
