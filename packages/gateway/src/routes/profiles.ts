import { FleetError, userIdSchema } from '@agent-fleet/core';
import { GROUP_PATTERN, TENANT_PATTERN, validateProfile } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope, requireUserAccess } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';

const profileBody = z.object({
  tenant: z.string().regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-'),
  groups: z
    .array(
      z.string().regex(GROUP_PATTERN, 'each group must be 1-128 characters of letters, digits and ._:@-'),
    )
    .max(256),
  roleContext: z.string().max(16_384).optional(),
});

/** A user's profile: the tenant and groups retrieval is filtered by, and the agent's role context. */
export const profileRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.put(
    '/v1/users/:userId/profile',
    // A profile holds the user's permissions: only admins write it, never the user.
    {
      onRequest: [requireScope('admin')],
      schema: { params: z.object({ userId: userIdSchema }), body: profileBody },
    },
    async (req) => {
      const input = validateProfile(req.body);
      await deps.profiles.put(req.params.userId, input);
      return deps.profiles.get(req.params.userId);
    },
  );

  app.get(
    '/v1/users/:userId/profile',
    { onRequest: [requireUserAccess('turns:read')], schema: { params: z.object({ userId: userIdSchema }) } },
    async (req) => {
      const profile = await deps.profiles.get(req.params.userId);
      if (!profile) throw new FleetError('not_found', `user ${req.params.userId} has no profile`);
      return profile;
    },
  );
};
