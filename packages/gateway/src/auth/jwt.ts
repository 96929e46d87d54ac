import { FleetError, USER_ID_PATTERN } from '@agent-fleet/core';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';

export interface JwtConfig {
  /** HS256 shared secret (JWT_SECRET). */
  secret?: string | undefined;
  /** RS256/ES256 keys of an identity provider (JWT_JWKS_URL). */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** How far the issuer's clock may be from ours (JWT_CLOCK_SKEW_SECONDS). */
  clockSkewSeconds: number;
  /** The longest a token may be valid: `exp - iat`, or `exp - now` without `iat` (JWT_MAX_LIFETIME_SECONDS). */
  maxLifetimeSeconds: number;
}

/** Verifies a user token and returns its subject, the userId; throws `unauthorized` saying why. */
export type JwtVerifier = (token: string) => Promise<{ userId: string }>;

const ASYMMETRIC = ['RS256', 'ES256'];

/**
 * End users' JWTs: HS256 with JWT_SECRET, or RS256/ES256 with keys from JWT_JWKS_URL (cached and
 * refetched by jose when an unknown `kid` shows up); both may be configured. The algorithm picks
 * the key, and each key only accepts its own algorithms, so a token cannot choose how it is
 * checked. `sub` must be a valid userId and `exp` is required. Clocks may disagree by the skew
 * (for `exp`, `nbf` and `iat`), no more: a token issued in the future is refused. A token valid
 * longer than the maximum lifetime (`exp - iat`, or `exp - now` when it has no `iat`) is refused,
 * so a leaked long-lived token is worthless here whatever its issuer allowed. Returns null when
 * neither key source is configured.
 */
export function createJwtVerifier(cfg: JwtConfig): JwtVerifier | null {
  if (!cfg.secret && !cfg.jwksUrl) return null;
  const secret = cfg.secret ? new TextEncoder().encode(cfg.secret) : undefined;
  const jwks = cfg.jwksUrl ? createRemoteJWKSet(new URL(cfg.jwksUrl)) : undefined;
  const skew = cfg.clockSkewSeconds;
  const maxLifetime = cfg.maxLifetimeSeconds;
  const claims: JWTVerifyOptions = {
    clockTolerance: skew,
    requiredClaims: ['sub', 'exp'],
    ...(cfg.issuer ? { issuer: cfg.issuer } : {}),
    ...(cfg.audience ? { audience: cfg.audience } : {}),
  };
  return async (token) => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new FleetError('unauthorized', 'the bearer token is neither an API key nor a JWT');
    }
    try {
      const { payload } =
        alg === 'HS256' && secret
          ? await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] })
          : jwks && alg && ASYMMETRIC.includes(alg)
            ? await jwtVerify(token, jwks, { ...claims, algorithms: ASYMMETRIC })
            : failAlg(alg);
      if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub))
        throw new FleetError('unauthorized', 'the token subject (sub) must be a userId');
      assertTimeBounds(payload, skew, maxLifetime);
      return { userId: payload.sub };
    } catch (err) {
      throw toUnauthorized(err);
    }
  };
}

/** `iat` not in the future (beyond the skew), and a lifetime within the maximum; jose checked `exp` and `nbf`. */
function assertTimeBounds(payload: JWTPayload, skew: number, maxLifetime: number): void {
  const now = Math.floor(Date.now() / 1000);
  const exp = payload.exp!;
  if (payload.iat !== undefined) {
    if (payload.iat > now + skew)
      throw new FleetError(
        'unauthorized',
        "the token's iat claim is not accepted: it was issued in the future",
      );
    if (exp - payload.iat > maxLifetime)
      throw new FleetError(
        'unauthorized',
        `the token's lifetime (exp - iat = ${exp - payload.iat} s) is longer than the ${maxLifetime} s this gateway accepts (JWT_MAX_LIFETIME_SECONDS)`,
      );
  } else if (exp - now > maxLifetime + skew) {
    throw new FleetError(
      'unauthorized',
      `the token is valid for ${exp - now} s more, longer than the ${maxLifetime} s this gateway accepts (JWT_MAX_LIFETIME_SECONDS)`,
    );
  }
}

function failAlg(alg: string | undefined): never {
  throw new FleetError('unauthorized', `tokens signed with ${alg ?? 'no algorithm'} are not accepted here`);
}

function toUnauthorized(err: unknown): FleetError {
  if (err instanceof FleetError) return err;
  if (err instanceof errors.JWTExpired) return new FleetError('unauthorized', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed)
    return new FleetError('unauthorized', `the token's ${err.claim} claim is not accepted: ${err.reason}`);
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new FleetError('unauthorized', 'the token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey)
    return new FleetError('unauthorized', 'no key of the identity provider matches the token');
  if (err instanceof errors.JOSEError)
    return new FleetError('unauthorized', `the token is invalid (${err.code})`);
  return new FleetError('unavailable', 'cannot check the token right now', { cause: err });
}
