import { tenantQuotaSchema, userIdSchema, userQuotaSchema } from '@agent-fleet/core';
import { TENANT_PATTERN } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope, requireUserAccess } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { putTenantQuota, tenantQuotaView, userQuotaView } from '../quota-views.ts';
import { errorResponses, tenantQuotaViewSchema, userQuotaViewSchema } from '../schemas.ts';

const tenantParams = z.object({
  tenant: z.string().regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-'),
});
const userParams = z.object({ userId: userIdSchema });
const deleted = z.object({ deleted: z.boolean() }).meta({ id: 'QuotaDeleted' });

/**
 * Tenants' and users' quotas (admin): a tenant's weight in the fair queues and its token budgets per
 * UTC day and month, the per-user budgets of its users, and a user's own budgets. Each is written to
 * Postgres, then to Redis where accepts and model calls check them; reads add the usage so far.
 */
export const quotaRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.put(
    '/v1/tenants/:tenant/quota',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['quotas'],
        summary: 'Set a tenant’s weight and token budgets (admin)',
        description:
          'Replaces the tenant’s quota: fields left out take their defaults (weight 1, no limits, soft threshold 0.8).',
        params: tenantParams,
        body: tenantQuotaSchema,
        response: { 200: tenantQuotaViewSchema, ...errorResponses },
      },
    },
    async (req) => {
      await putTenantQuota(deps, req.params.tenant, req.body);
      return tenantQuotaView(deps, req.params.tenant);
    },
  );

  app.get(
    '/v1/tenants/:tenant/quota',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['quotas'],
        summary: 'A tenant’s weight, token budgets and their usage now (admin)',
        params: tenantParams,
        response: { 200: tenantQuotaViewSchema, ...errorResponses },
      },
    },
    async (req) => tenantQuotaView(deps, req.params.tenant),
  );

  app.delete(
    '/v1/tenants/:tenant/quota',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['quotas'],
        summary: 'Put a tenant back on the defaults: weight 1, no limits (admin)',
        params: tenantParams,
        response: { 200: deleted, ...errorResponses },
      },
    },
    async (req) => {
      const wasThere = await deps.quotas.deleteTenant(req.params.tenant);
      await deps.budgets.clearTenant(req.params.tenant);
      return { deleted: wasThere };
    },
  );

  app.put(
    '/v1/users/:userId/quota',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['quotas'],
        summary: 'Give a user token budgets of their own, in place of their tenant’s per-user ones (admin)',
        params: userParams,
        body: userQuotaSchema,
        response: { 200: userQuotaViewSchema, ...errorResponses },
      },
    },
    async (req) => {
      const stored = await deps.quotas.putUser(req.params.userId, req.body);
      await deps.budgets.putUser(req.params.userId, stored);
      return userQuotaView(deps, req.params.userId);
    },
  );

  app.get(
    '/v1/users/:userId/quota',
    {
      onRequest: [requireUserAccess('turns:read')],
      schema: {
        tags: ['quotas'],
        summary: 'A user’s token budgets as they apply, and their usage now',
        params: userParams,
        response: { 200: userQuotaViewSchema, ...errorResponses },
      },
    },
    async (req) => userQuotaView(deps, req.params.userId),
  );

  app.delete(
    '/v1/users/:userId/quota',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['quotas'],
        summary: 'Put a user back on their tenant’s per-user budgets (admin)',
        params: userParams,
        response: { 200: deleted, ...errorResponses },
      },
    },
    async (req) => {
      const wasThere = await deps.quotas.deleteUser(req.params.userId);
      await deps.budgets.clearUser(req.params.userId);
      return { deleted: wasThere };
    },
  );
};
