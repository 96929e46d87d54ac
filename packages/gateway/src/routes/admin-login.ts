import { FleetError } from '@agent-fleet/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIN_COOKIE_PATH, ADMIN_SESSION_COOKIE } from '../auth/admin-sessions.ts';
import type { LoginAttempt } from '../auth/login-throttle.ts';
import { ADMIN_LOGIN_PATH, ADMIN_LOGOUT_PATH } from '../auth/plugin.ts';
import { BULL_BOARD_PATH } from '../bull-board.ts';
import type { GatewayDeps } from '../deps.ts';
import { PUBLIC_ROUTE } from '../openapi.ts';
import { errorResponses } from '../schemas.ts';
import { isHttps, trustProxy } from '../trust-proxy.ts';
import { loginPage } from './admin-login-page.ts';

const FORM = 'application/x-www-form-urlencoded';

const signedInSchema = z.object({
  signedIn: z.literal(true),
  keyId: z.string(),
  name: z.string(),
  expiresInSeconds: z.number().int(),
});

/**
 * Sign-in for the admin UI (Bull Board), which a browser cannot reach with a Bearer header:
 * `GET /admin/login` is a form asking for an API key with the `admin` scope, `POST /admin/login`
 * checks it and sets an HttpOnly, SameSite=Strict cookie (Secure when the client came over https,
 * also through a proxy TRUST_PROXY trusts) holding a session id, `POST /admin/logout` ends the
 * session. Failed sign-ins are throttled per address and per key id (`LoginThrottle`). Forms are
 * answered with redirects (303), so a person never sees JSON; a JSON body gets JSON answers for
 * scripts and tests.
 */
export const adminLoginRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const { sessions } = deps;
  const keys = deps.auth.apiKeys;
  const throttle = deps.auth.loginThrottle;
  const authOff = deps.config.AUTH_MODE === 'off';
  const trust = trustProxy(deps.config.TRUST_PROXY);
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const isForm = (req: FastifyRequest) => (req.headers['content-type'] ?? '').startsWith(FORM);

  app.get(
    ADMIN_LOGIN_PATH,
    {
      schema: {
        tags: ['admin'],
        summary: 'The sign-in form of the admin UI (HTML)',
        security: PUBLIC_ROUTE,
        querystring: z.object({
          error: z.string().max(64).optional(),
          signedOut: z.string().max(8).optional(),
        }),
        produces: ['text/html'],
      },
    },
    async (req, reply) => {
      if (authOff) return reply.redirect(BULL_BOARD_PATH, 303);
      // Only to greet a signed-in operator: the form works without Redis too.
      const session = await sessions.get(req.cookies[ADMIN_SESSION_COOKIE]).catch(() => null);
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        )
        .header('x-frame-options', 'DENY')
        .send(
          loginPage({
            error: req.query.error,
            signedOut: req.query.signedOut !== undefined,
            signedInAs: session?.keyName,
            boardPath: BULL_BOARD_PATH,
          }),
        );
    },
  );

  app.post(
    ADMIN_LOGIN_PATH,
    {
      bodyLimit: 8192,
      schema: {
        tags: ['admin'],
        summary: 'Sign in to the admin UI with an API key that has the admin scope',
        description:
          'Sets the `fleet_admin` session cookie (HttpOnly, SameSite=Strict, Path=/admin, Secure over https). ' +
          'A form post is answered with a redirect to the UI, or back to the form on failure. Failed sign-ins ' +
          'are throttled per address and per key id (429 with Retry-After).',
        security: PUBLIC_ROUTE,
        consumes: ['application/json', FORM],
        body: z.object({ key: z.string().min(1).max(256).meta({ description: 'an API key, fk_...' }) }),
        response: { 200: signedInSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const form = isForm(req);
      const presented = req.body.key.trim();
      let attempt: LoginAttempt;
      try {
        attempt = await throttle.attempt(req, reply, presented);
      } catch (err) {
        if (form) return reply.redirect(`${ADMIN_LOGIN_PATH}?error=throttled`, 303);
        throw err;
      }
      const key = await keys.verify(presented).catch(async (err: unknown) => {
        await attempt.succeeded(); // not the caller's failure
        throw new FleetError('unavailable', 'cannot check the API key right now; try again', { cause: err });
      });
      if (!key?.scopes.includes('admin')) {
        if (form) return reply.redirect(`${ADMIN_LOGIN_PATH}?error=${key ? 'not_admin' : 'invalid'}`, 303);
        if (!key) throw new FleetError('unauthorized', 'the API key is invalid or revoked');
        throw new FleetError('forbidden', 'this API key does not have the admin scope');
      }
      await attempt.succeeded();
      const id = await sessions.create({ keyId: key.id, keyName: key.name }).catch((err: unknown) => {
        throw new FleetError('unavailable', 'cannot start a session right now; try again', { cause: err });
      });
      setSessionCookie(reply, id, sessions.ttlSeconds, isHttps(req, trust));
      if (form) return reply.redirect(BULL_BOARD_PATH, 303);
      return {
        signedIn: true as const,
        keyId: key.id,
        name: key.name,
        expiresInSeconds: sessions.ttlSeconds,
      };
    },
  );

  app.post(
    ADMIN_LOGOUT_PATH,
    {
      schema: {
        tags: ['admin'],
        summary: 'End the admin UI session',
        security: PUBLIC_ROUTE,
        response: { 200: z.object({ signedOut: z.literal(true) }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await sessions.destroy(req.cookies[ADMIN_SESSION_COOKIE]).catch((err: unknown) => {
        throw new FleetError('unavailable', 'cannot end the session right now; try again', { cause: err });
      });
      reply.clearCookie(ADMIN_SESSION_COOKIE, { path: ADMIN_COOKIE_PATH });
      if (isForm(req)) return reply.redirect(`${ADMIN_LOGIN_PATH}?signedOut=1`, 303);
      return { signedOut: true as const };
    },
  );
};

function setSessionCookie(reply: FastifyReply, id: string, ttlSeconds: number, secure: boolean): void {
  reply.setCookie(ADMIN_SESSION_COOKIE, id, {
    path: ADMIN_COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure,
    maxAge: ttlSeconds,
  });
}
