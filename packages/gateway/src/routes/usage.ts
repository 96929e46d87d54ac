import { FleetError, userIdSchema } from '@agent-fleet/core';
import { TENANT_PATTERN, USAGE_GROUPS } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasScope, type Principal } from '../auth/principal.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses, usageReportSchema } from '../schemas.ts';

const DAY_MS = 86_400_000;
/** The longest range one report covers. */
const MAX_RANGE_DAYS = 400;

const instant = (field: string) =>
  z
    .string()
    .refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && Number.isFinite(Date.parse(s)), {
      message: `${field} must be an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z`,
    })
    .optional();

const usageQuery = z.object({
  tenant: z
    .string()
    .regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-')
    .optional(),
  userId: userIdSchema.optional(),
  from: instant('from').describe('start of the range (inclusive); default: 30 days before `to`'),
  to: instant('to').describe('end of the range (exclusive); default: now'),
  groupBy: z.enum(USAGE_GROUPS).default('day'),
});

/**
 * Whose usage `p` may see: an admin anyone's; a user only their own (their userId, no tenant).
 * Returns the userId to report on (a user's own when they named none).
 */
function scopeOf(p: Principal, q: z.infer<typeof usageQuery>): string | undefined {
  if (hasScope(p, 'admin')) return q.userId;
  if (p.kind !== 'user')
    throw new FleetError('forbidden', 'this route needs the admin scope, or a user token');
  if (q.userId !== undefined && q.userId !== p.userId)
    throw new FleetError('forbidden', `a user token may only read its own usage (${p.userId})`, {
      details: { field: 'query.userId' },
    });
  if (q.tenant !== undefined)
    throw new FleetError('forbidden', 'a user token reads its own usage only; leave tenant out', {
      details: { field: 'query.tenant' },
    });
  return p.userId;
}

/** GET /v1/usage: token usage as the model servers reported it, from the usage ledger. */
export const usageRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.get(
    '/v1/usage',
    {
      schema: {
        tags: ['quotas'],
        summary: 'Token usage in a range, by day, user or model (admin, or a user for their own)',
        description:
          'What the model servers reported for every call (chat steps, summaries, embeddings, review runs), ' +
          'as recorded when each turn settled and each review call returned; days are UTC. An admin may ' +
          'narrow it to a tenant and/or a user; a user token gets its own.',
        querystring: usageQuery,
        response: { 200: usageReportSchema, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const userId = scopeOf(req.principal!, q);
      const to = q.to ? Date.parse(q.to) : Date.now();
      const from = q.from ? Date.parse(q.from) : to - 30 * DAY_MS;
      if (from >= to)
        throw new FleetError('invalid_request', 'from must be before to', {
          details: { field: 'query.from' },
        });
      if (to - from > MAX_RANGE_DAYS * DAY_MS)
        throw new FleetError('invalid_request', `a report covers at most ${MAX_RANGE_DAYS} days`, {
          details: { field: 'query.from' },
        });
      const report = await deps.ledger.report({
        from,
        to,
        groupBy: q.groupBy,
        ...(q.tenant ? { tenant: q.tenant } : {}),
        ...(userId ? { userId } : {}),
      });
      return {
        ...report,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        tenant: q.tenant ?? null,
        userId: userId ?? null,
      };
    },
  );
};
