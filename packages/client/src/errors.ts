import { ERROR_CODES, type ErrorCode, FleetError, isRetryableStatus } from '@agent-fleet/core';

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 408) return 'request_timeout';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 431) return 'headers_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  return status >= 500 ? 'upstream_error' : 'invalid_request';
}

/**
 * An error answer of the gateway, `{ error: { code, message, details? } }`, as a `FleetError` with
 * the same code, plus the HTTP status and, on 429/503, how long to wait before trying again.
 */
export class FleetApiError extends FleetError {
  readonly httpStatus: number;
  /** From `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    httpStatus: number,
    code: ErrorCode,
    message: string,
    opts: { details?: Record<string, unknown>; retryAfterMs?: number } = {},
  ) {
    super(code, message, {
      // An exhausted budget (429 quota_exceeded) stays so until its window resets.
      retryable: code !== 'quota_exceeded' && isRetryableStatus(httpStatus),
      ...(opts.details ? { details: opts.details } : {}),
    });
    this.name = 'FleetApiError';
    this.httpStatus = httpStatus;
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** Builds the error from a non-2xx response (its body may be anything, or nothing). */
  static async fromResponse(res: Response): Promise<FleetApiError> {
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {}
    const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
      ?.error;
    const code =
      typeof e?.code === 'string' && (ERROR_CODES as readonly string[]).includes(e.code)
        ? (e.code as ErrorCode)
        : codeForStatus(res.status);
    const message =
      typeof e?.message === 'string'
        ? e.message
        : `gateway answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    const details =
      e?.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined;
    const retryAfter = Number(res.headers.get('retry-after'));
    return new FleetApiError(res.status, code, message, {
      ...(details ? { details } : {}),
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 && res.headers.has('retry-after')
        ? { retryAfterMs: retryAfter * 1000 }
        : {}),
    });
  }
}
