import type { FleetError, Logger } from '@agent-fleet/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toFleetError, withRetryAfter } from '../errors.ts';

/**
 * OpenAI's error body, `{ error: { message, type, param, code } }`. The OpenAI-compatible routes
 * answer it instead of the fleet's `{ error: { code, message, details? } }` because the clients of
 * those routes are OpenAI SDKs, which read `type`, `param` and `code` from exactly this shape. The two
 * shapes agree on `error.code` (the fleet's stable code, or OpenAI's where one is expected, like
 * `model_not_found`) and `error.message`.
 */
export const openAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({ description: 'invalid_request_error, authentication_error, …' }),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .meta({ id: 'OpenAIError' });

export type OpenAiErrorBody = z.infer<typeof openAiErrorSchema>;

export const openAiErrorResponses = { '4xx': openAiErrorSchema, '5xx': openAiErrorSchema } as const;

function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** The body field an error names (`details.issues[0].field`, `body.x.y`) as OpenAI's `param` (`x.y`). */
function issueParam(details: Record<string, unknown>): string | null {
  const issues = details.issues;
  const field = Array.isArray(issues) ? (issues[0] as { field?: unknown } | undefined)?.field : undefined;
  return typeof field === 'string' && field.startsWith('body.') ? field.slice('body.'.length) : null;
}

/**
 * The OpenAI body of an error; `details.param` (else the field of its first issue) and
 * `details.openaiCode` refine `param` and `code`.
 */
export function toOpenAiError(err: FleetError): OpenAiErrorBody {
  const d = err.details ?? {};
  const param = typeof d.param === 'string' ? d.param : issueParam(d);
  const code = typeof d.openaiCode === 'string' ? d.openaiCode : err.code;
  return { error: { message: err.message, type: typeOf(err.status), param, code } };
}

/** Error handler of the OpenAI-compatible routes: every 4xx/5xx in OpenAI's shape. */
export function openAiErrorHandler(logger: Logger) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const fleetErr = toFleetError(err);
    if (fleetErr.status >= 500 && fleetErr.code === 'internal')
      logger.error({ err, url: req.url, reqId: req.id }, 'request failed');
    const body = toOpenAiError(fleetErr);
    if (hasZodFastifySchemaValidationErrors(err) && err.validation[0]) {
      // `body.messages.0.role` → `messages.0.role`, the field as the client sent it.
      const path = err.validation[0].instancePath.replace(/^\//, '').replaceAll('/', '.');
      body.error.param = path || null;
    }
    return withRetryAfter(reply, fleetErr).code(fleetErr.status).send(body);
  };
}
