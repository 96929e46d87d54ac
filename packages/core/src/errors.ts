/**
 * One error hierarchy for the whole fleet. Every error carries a stable `code`; the HTTP status and
 * whether a retry can help are derived from that code in one place, so callers never guess.
 */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'headers_too_large',
  'request_timeout',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'idempotency_key_reused',
  'rate_limited',
  'quota_exceeded',
  'unavailable',
  'upstream_error',
  'timeout',
  'invalid_config',
  'invalid_job',
  'protocol_violation',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'invalid_request':
    case 'invalid_json':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'request_timeout':
      return 408;
    case 'headers_too_large':
      return 431;
    case 'invalid_job':
    case 'idempotency_key_reused':
      return 422;
    case 'rate_limited':
    case 'quota_exceeded':
      return 429;
    case 'upstream_error':
      return 502;
    case 'unavailable':
      return 503;
    case 'timeout':
      return 504;
    case 'invalid_config':
    case 'protocol_violation':
    case 'internal':
      return 500;
    default:
      return assertNever(code);
  }
}

/**
 * 408/409/429/5xx and network-level failures can succeed when tried again; other 4xx cannot. An
 * exhausted token budget (`quota_exceeded`, a 429) cannot either: see {@link FleetError}.
 */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export class FleetError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly isRetryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; details?: Record<string, unknown>; retryable?: boolean } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FleetError';
    this.code = code;
    this.status = httpStatusOf(code);
    // A budget stays exhausted until its window resets: trying again sooner cannot help.
    this.isRetryable = opts.retryable ?? (code !== 'quota_exceeded' && isRetryableStatus(this.status));
    this.details = opts.details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}
