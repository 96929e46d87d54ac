import { FleetError, USER_ID_PATTERN } from '@agent-fleet/core';
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTVerifyOptions, jwtVerify } from 'jose';

export interface JwtConfig {
  /** HS256 shared secret (JWT_SECRET). */
  secret?: string | undefined;
  /** RS256/ES256 keys of an identity provider (JWT_JWKS_URL). */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** Verifies a user token and returns its subject, the userId; throws `unauthorized` saying why. */
export type JwtVerifier = (token: string) => Promise<{ userId: string }>;

const ASYMMETRIC = ['RS256', 'ES256'];

/**
 * End users' JWTs: HS256 with JWT_SECRET, or RS256/ES256 with keys from JWT_JWKS_URL (cached and
 * refetched by jose when an unknown `kid` shows up); both may be configured. The algorithm picks
 * the key, and each key only accepts its own algorithms, so a token cannot choose how it is
 * checked. `sub` must be a valid userId. Returns null when neither is configured.
 */
export function createJwtVerifier(cfg: JwtConfig): JwtVerifier | null {
  if (!cfg.secret && !cfg.jwksUrl) return null;
  const secret = cfg.secret ? new TextEncoder().encode(cfg.secret) : undefined;
  const jwks = cfg.jwksUrl ? createRemoteJWKSet(new URL(cfg.jwksUrl)) : undefined;
  const claims: JWTVerifyOptions = {
    clockTolerance: 5,
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
      return { userId: payload.sub };
    } catch (err) {
      throw toUnauthorized(err);
    }
  };
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
