import {
  FleetError,
  profileSettingsSchema,
  tenantQuotaSchema,
  userIdSchema,
  userKeys,
} from '@agent-fleet/core';
import { GROUP_PATTERN, TENANT_PATTERN } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope, requireUserAccess } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { putTenantQuota } from '../quota-views.ts';
import { errorResponses, profileSchema } from '../schemas.ts';

const profileBody = z
  .object({
    tenant: z.string().regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-'),
    groups: z
      .array(
        z.string().regex(GROUP_PATTERN, 'each group must be 1-128 characters of letters, digits and ._:@-'),
      )
      .max(256),
    roleContext: z.string().max(16_384).optional(),
  })
  .extend(profileSettingsSchema.shape);

/** A user's profile: the tenant and groups retrieval is filtered by, and the agent's role context. */
export const profileRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.put(
    '/v1/users/:userId/profile',
    // A profile holds the user's permissions: only admins write it, never the user.
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['profiles'],
        summary: 'Create or replace a user’s profile (admin)',
        params: z.object({ userId: userIdSchema }),
        body: profileBody,
        response: { 200: profileSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { tenant, groups, roleContext, ...settings } = req.body;
      const profile = await deps.profiles.put(req.params.userId, { tenant, groups, roleContext, settings });
      // Workers read profiles through a Redis cache: the user's next turn must see this one, and
      // its next message counts under this tenant.
      await deps.redis.del(userKeys(deps.config.FLEET_NAMESPACE, req.params.userId).profile);
      await deps.directory.set(req.params.userId, tenant);
      return profile;
    },
  );

  const tenantParams = z.object({
    tenant: z.string().regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-'),
  });
  app.put(
    '/v1/tenants/:tenant/default-profile',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['profiles'],
        summary: 'The profile users of the tenant without their own get (admin; with DEFAULT_TENANT)',
        description:
          'With `quota`, also sets the tenant’s weight and token budgets, as PUT /v1/tenants/{tenant}/quota does.',
        params: tenantParams,
        body: profileBody.omit({ tenant: true }).extend({
          quota: tenantQuotaSchema
            .optional()
            .describe('the tenant’s weight, budgets and per-user budgets (see /v1/tenants/{tenant}/quota)'),
        }),
      },
    },
    async (req) => {
      const { groups, roleContext, quota, ...settings } = req.body;
      if (quota) await putTenantQuota(deps, req.params.tenant, quota);
      // Users without a profile had the old default cached; it expires within the cache TTL (5 min).
      return deps.profiles.putTenantDefault(req.params.tenant, { groups, roleContext, settings });
    },
  );

  app.get(
    '/v1/tenants/:tenant/default-profile',
    { onRequest: [requireScope('admin')], schema: { tags: ['profiles'], params: tenantParams } },
    async (req) => {
      const profile = await deps.profiles.getTenantDefault(req.params.tenant);
      if (!profile) throw new FleetError('not_found', `tenant ${req.params.tenant} has no default profile`);
      return profile;
    },
  );

  app.get(
    '/v1/users/:userId/profile',
    {
      onRequest: [requireUserAccess('turns:read')],
      schema: {
        tags: ['profiles'],
        summary: 'A user’s profile',
        params: z.object({ userId: userIdSchema }),
        response: { 200: profileSchema, ...errorResponses },
      },
    },
    async (req) => {
      const profile = await deps.profiles.get(req.params.userId);
      if (!profile) throw new FleetError('not_found', `user ${req.params.userId} has no profile`);
      return profile;
    },
  );
};
