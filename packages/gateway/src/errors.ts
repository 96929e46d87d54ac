import {
  asUnavailable,
  type ErrorCode,
  FleetError,
  type Logger,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  unavailable,
} from '@agent-fleet/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

/** Every 4xx/5xx leaves the gateway as `{ error: { code, message, details? } }`. */
export function sendError(reply: FastifyReply, err: FleetError): FastifyReply {
  return withRetryAfter(reply, err).code(err.status).send(err.toJSON());
}

/**
 * A 503 says when to come back: `Retry-After` from the error's `details.retryAfterSeconds`, else
 * UNAVAILABLE_RETRY_AFTER_SECONDS. An exhausted budget says when it resets (`details.resetAt`), and
 * `x-should-retry: false` keeps the OpenAI SDKs from retrying a 429 that cannot succeed sooner. An
 * answer that set the header already keeps it.
 */
export function withRetryAfter(reply: FastifyReply, err: FleetError): FastifyReply {
  if (err.code === 'quota_exceeded') return untilReset(reply, err);
  if (err.status !== 503 || reply.hasHeader('retry-after')) return reply;
  const seconds = err.details?.retryAfterSeconds;
  return reply.header(
    'retry-after',
    String(typeof seconds === 'number' && seconds > 0 ? seconds : UNAVAILABLE_RETRY_AFTER_SECONDS),
  );
}

function untilReset(reply: FastifyReply, err: FleetError): FastifyReply {
  const resetAt = Date.parse(String(err.details?.resetAt));
  if (Number.isFinite(resetAt) && !reply.hasHeader('retry-after'))
    reply.header('retry-after', String(Math.max(1, Math.ceil((resetAt - Date.now()) / 1000))));
  return reply.header('x-should-retry', 'false');
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

/** 4xx statuses of plugin errors (multipart limits, …) that have a code of their own. */
const STATUS_CODES: Record<number, ErrorCode> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** Map whatever a route or Fastify threw to the one error shape; only unknown errors are 500s. */
export function toFleetError(err: FastifyError | Error): FleetError {
  if (err instanceof FleetError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => {
      const where = `${err.validationContext ?? 'request'}${v.instancePath.replaceAll('/', '.')}`;
      return { field: where, message: v.message ?? 'invalid' };
    });
    return new FleetError('invalid_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
      details: { issues },
    });
  }
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new FleetError('invalid_json', `request body is not valid JSON: ${err.message}`);
  }
  if (fe.code && FASTIFY_CODES[fe.code]) return new FleetError(FASTIFY_CODES[fe.code]!, err.message);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new FleetError(STATUS_CODES[fe.statusCode] ?? 'invalid_request', err.message);
  }
  // Redis or Postgres away is "try again later" (503), not a fault of the gateway.
  return asUnavailable(err) ?? new FleetError('internal', 'internal error', { cause: err });
}

/** A read changes nothing, so whether it "may have been applied" is no question. */
function forMethod(err: FleetError, method: string): FleetError {
  const reads = method === 'GET' || method === 'HEAD';
  return reads && err.details?.outcome === 'unknown' ? unavailable(err.cause, false) : err;
}

export function errorHandler(logger: Logger) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const fleetErr = forMethod(toFleetError(err), req.method);
    if (fleetErr.code === 'internal') logger.error({ err, url: req.url, reqId: req.id }, 'request failed');
    else if (fleetErr.status >= 500)
      logger.warn({ err: err.message, url: req.url, reqId: req.id }, fleetErr.message);
    return sendError(reply, fleetErr);
  };
}
