import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtVerifier } from './jwt.ts';

const SECRET = 'jwt-test-secret-that-is-long-enough-for-hs256';
const now = () => Math.floor(Date.now() / 1000);

/** A token for `ann` with the claims given (seconds since the epoch); none are set unless given. */
function token(claims: { iat?: number; exp?: number; nbf?: number }): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ann');
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

describe('JWT verification: clock skew and lifetime bounds', () => {
  const verify = createJwtVerifier({ secret: SECRET, clockSkewSeconds: 60, maxLifetimeSeconds: 86_400 })!;
  const refused = async (claims: Parameters<typeof token>[0], reason: RegExp) =>
    expect(verify(await token(claims))).rejects.toMatchObject({ code: 'unauthorized', message: reason });
  const accepted = async (claims: Parameters<typeof token>[0]) =>
    expect(verify(await token(claims))).resolves.toEqual({ userId: 'ann' });

  it('accepts an ordinary token, and clocks that disagree by less than the skew', async () => {
    await accepted({ iat: now(), exp: now() + 3600 });
    await accepted({ iat: now() + 30, exp: now() + 3600 });
    await accepted({ iat: now() - 3600, exp: now() - 30 });
    await accepted({ iat: now(), nbf: now() + 30, exp: now() + 3600 });
    await accepted({ exp: now() + 3600 });
  });

  it('refuses a token issued in the future beyond the skew', async () => {
    await refused({ iat: now() + 600, exp: now() + 3600 }, /issued in the future/);
    await refused(
      { iat: now() + 10 * 365 * 86_400, exp: now() + 10 * 365 * 86_400 + 60 },
      /issued in the future/,
    );
  });

  it('refuses a token that lives longer than the maximum lifetime', async () => {
    await refused({ iat: now(), exp: now() + 100 * 365 * 86_400 }, /lifetime .* longer than .*86400/);
    await refused({ iat: now() - 60, exp: now() + 86_400 }, /lifetime/);
    await accepted({ iat: now(), exp: now() + 86_400 });
    // Without iat, the time left is bounded instead.
    await refused({ exp: now() + 2 * 86_400 }, /valid for .* longer than .*86400/);
  });

  it('refuses an expired token, one not valid yet, and one without exp', async () => {
    await refused({ iat: now() - 7200, exp: now() - 120 }, /expired/);
    await refused({ iat: now(), nbf: now() + 600, exp: now() + 3600 }, /nbf/);
    await refused({ iat: now() }, /exp/);
  });
});
