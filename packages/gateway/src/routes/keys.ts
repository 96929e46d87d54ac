import { FleetError } from '@agent-fleet/core';
import { API_KEY_ID_PATTERN } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses } from '../schemas.ts';

const revokedSchema = z.object({ keyId: z.string(), status: z.enum(['revoked', 'already-revoked']) });

/**
 * Revoking service API keys over HTTP, as `fleet keys revoke` does: the key is revoked in Postgres
 * and the revocation announced, so every gateway refuses it within a second.
 */
export const keyRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.delete(
    '/v1/keys/:keyId',
    {
      onRequest: [requireScope('admin')],
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key: every gateway refuses it within a second',
        description:
          'Idempotent: revoking a revoked key answers `already-revoked` (and announces it again). ' +
          '`keyId` is the part of the key between `fk_` and the second `_`.',
        params: z.object({
          keyId: z.string().regex(API_KEY_ID_PATTERN, 'keyId is the 16 hex digits after fk_'),
        }),
        response: { 200: revokedSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { keyId } = req.params;
      const status = await deps.auth.apiKeys.revoke(keyId);
      if (status === 'not-found')
        throw new FleetError('not_found', `no API key ${keyId}`, { details: { keyId } });
      return { keyId, status };
    },
  );
};
