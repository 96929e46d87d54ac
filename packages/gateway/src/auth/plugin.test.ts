import { createServer, type Server } from 'node:http';
import { createLogger, FleetError, partitionQueueName, partitionQueuePrefix } from '@agent-fleet/core';
import { ApiKeyStore, createPool } from '@agent-fleet/state';
import { WorkBacklog } from '@agent-fleet/turns';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { errorHandler } from '../errors.ts';
import { createAuthCollaborators } from './collaborators.ts';
import { assertTenantAccess, canAccessUser, requireScope, requireUserAccess } from './guards.ts';
import { createLoadShedder, type LoadShedder } from './load-shedding.ts';
import { type AuthConfig, authPlugin } from './plugin.ts';

const SECRET = 'test-secret-that-is-long-enough-for-hs256!';
const logger = createLogger('auth-test', 'silent');

/** A small app with one route of each kind, guarded as the gateway's routes are. */
async function buildApp(opts: {
  pool: Pool;
  redis: Redis;
  config: Partial<AuthConfig>;
  shedder?: LoadShedder;
}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 1024 });
  app.setErrorHandler(errorHandler(logger));
  const config: AuthConfig = {
    FLEET_NAMESPACE: freshNamespace(),
    AUTH_MODE: 'required',
    JWT_SECRET: SECRET,
    JWT_CLOCK_SKEW_SECONDS: 60,
    JWT_MAX_LIFETIME_SECONDS: 86_400,
    API_KEY_CACHE_SECONDS: 0,
    RATE_LIMIT_USER_PER_SECOND: 0,
    RATE_LIMIT_USER_BURST: 1,
    RATE_LIMIT_KEY_PER_SECOND: 0,
    RATE_LIMIT_KEY_BURST: 1,
    RATE_LIMIT_IP_PER_SECOND: 0,
    RATE_LIMIT_IP_BURST: 1,
    RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: 0,
    RATE_LIMIT_LOGIN_FAILURE_BURST: 1,
    ...opts.config,
  };
  const auth = createAuthCollaborators(config, { pool: opts.pool, redis: opts.redis });
  await app.register(authPlugin, { ...auth, config, logger });
  const owners: Record<string, string> = { t_ann: 'ann', t_bob: 'bob' };
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.post(
    '/v1/users/:userId/messages',
    { onRequest: [requireUserAccess('messages:write'), ...(opts.shedder ? [opts.shedder.guard] : [])] },
    async (req) => ({ accepted: (req.params as { userId: string }).userId, by: req.principal?.kind }),
  );
  app.get('/v1/users/:userId/history', { onRequest: [requireUserAccess('turns:read')] }, async () => ({
    ok: 1,
  }));
  app.put('/v1/users/:userId/profile', { onRequest: [requireScope('admin')] }, async () => ({ ok: 1 }));
  app.get('/v1/turns/:turnId', { onRequest: [requireScope('turns:read')] }, async (req) => {
    const owner = owners[(req.params as { turnId: string }).turnId];
    if (!owner || !canAccessUser(req.principal!, owner, 'turns:read'))
      throw new FleetError('not_found', 'no such turn');
    return { owner };
  });
  app.post('/v1/documents', { onRequest: [requireScope('documents:write')] }, async (req) => {
    assertTenantAccess(req.principal, (req.body as { tenant: string }).tenant);
    return { ok: 1 };
  });
  app.get('/admin/queues', async () => ({ board: 1 }));
  app.get('/admin/queues/api/queues', async () => ({ board: 1 }));
  return app;
}

describe('auth plugin and guards (real Postgres and Redis)', () => {
  let pool: Pool;
  let redis: Redis;
  let app: FastifyInstance;
  let store: ApiKeyStore;
  const key = {} as Record<'admin' | 'writer' | 'actor' | 'reader' | 'docs' | 'revoked', string>;

  beforeAll(async () => {
    pool = createPool(await freshDatabase(), 4);
    redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    store = new ApiKeyStore({ pool });
    key.admin = (await store.create({ name: 'admin', scopes: ['admin'] })).key;
    key.writer = (await store.create({ name: 'writer', scopes: ['messages:write'] })).key;
    key.actor = (
      await store.create({ name: 'actor', scopes: ['messages:write', 'turns:read'], actAsUsers: true })
    ).key;
    key.reader = (await store.create({ name: 'reader', scopes: ['turns:read'], actAsUsers: true })).key;
    key.docs = (await store.create({ name: 'docs', scopes: ['documents:write'], tenant: 'acme' })).key;
    const revoked = await store.create({ name: 'gone', scopes: ['admin'] });
    await store.revoke(revoked.id);
    key.revoked = revoked.key;
    app = await buildApp({ pool, redis, config: {} });
  });
  afterAll(async () => {
    await app?.close();
    await pool?.end();
    redis?.disconnect();
  });

  const userToken = (
    sub: string,
    opts: { secret?: string; exp?: string; iss?: string; aud?: string } = {},
  ) => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt();
    jwt.setExpirationTime(opts.exp ?? '5m');
    if (opts.iss) jwt.setIssuer(opts.iss);
    if (opts.aud) jwt.setAudience(opts.aud);
    return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
  };
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, credential?: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: {
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const msg = { text: 'hi' };

  it('serves public paths to anyone and asks everyone else for credentials, before reading the body', async () => {
    expect((await call('GET', '/healthz')).statusCode).toBe(200);
    const none = await call('POST', '/v1/users/ann/messages', undefined, msg);
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.json()).toEqual({
      error: { code: 'unauthorized', message: 'send Authorization: Bearer <API key or user token>' },
    });
    const huge = await call('POST', '/v1/users/ann/messages', undefined, { text: 'x'.repeat(10_000) });
    expect(huge.statusCode).toBe(401); // not 413: nobody reads the body of an unauthenticated request
    const basic = await app.inject({
      method: 'GET',
      url: '/v1/turns/t_ann',
      headers: { authorization: 'Basic abc' },
    });
    expect(basic.json().error.message).toMatch(/must be "Bearer/);
    expect((await call('GET', '/v1/turns/t_ann', 'fk_nonsense')).json().error.message).toMatch(
      /invalid or revoked/,
    );
    expect((await call('GET', '/v1/turns/t_ann', key.revoked)).statusCode).toBe(401);
    expect((await call('GET', '/v1/turns/t_ann', 'not-a-jwt')).json().error.message).toMatch(
      /neither an API key nor a JWT/,
    );
  });

  it('holds keys to their scopes, per-user routes to keys that act for users, and /admin to admin', async () => {
    expect((await call('POST', '/v1/users/ann/messages', key.actor, msg)).json()).toEqual({
      accepted: 'ann',
      by: 'key',
    });
    const notActor = await call('POST', '/v1/users/ann/messages', key.writer, msg);
    expect(notActor.statusCode).toBe(403);
    expect(notActor.json().error.message).toMatch(/may not act for users/);
    const noScope = await call('POST', '/v1/users/ann/messages', key.reader, msg);
    expect(noScope.json().error).toEqual({
      code: 'forbidden',
      message: 'this route needs the messages:write scope',
    });
    expect((await call('GET', '/v1/users/ann/history', key.reader)).statusCode).toBe(200);
    expect((await call('GET', '/v1/turns/t_bob', key.reader)).statusCode).toBe(200);
    expect((await call('PUT', '/v1/users/ann/profile', key.actor, {})).statusCode).toBe(403);
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      expect((await call('GET', url, key.actor)).statusCode).toBe(403);
      expect((await call('GET', url, key.admin)).statusCode).toBe(200);
    }
    for (const [method, url] of [
      ['POST', '/v1/users/ann/messages'],
      ['GET', '/v1/users/ann/history'],
      ['PUT', '/v1/users/ann/profile'],
      ['GET', '/v1/turns/t_ann'],
      ['POST', '/v1/documents'],
    ] as const) {
      const res = await call(
        method,
        url,
        key.admin,
        method === 'GET' ? undefined : { ...msg, tenant: 'any' },
      );
      expect(res.statusCode, `${method} ${url} as admin`).toBe(200);
    }
  });

  it('holds a percent-encoded path to the rules of the route it reaches', async () => {
    const ann = await userToken('ann');
    for (const url of ['/%61dmin/queues', '/%61dmin/queues/api/queues', '/admin/%71ueues'])
      expect((await call('GET', url, ann)).statusCode, url).toBe(403);
    expect((await call('GET', '/%68ealthz')).statusCode).toBe(200);
    expect((await call('GET', '/v1/users/%61nn/history')).statusCode).toBe(401);
  });

  it('confines a tenant key to its tenant’s documents', async () => {
    expect((await call('POST', '/v1/documents', key.docs, { tenant: 'acme' })).statusCode).toBe(200);
    const other = await call('POST', '/v1/documents', key.docs, { tenant: 'globex' });
    expect(other.statusCode).toBe(403);
    expect(other.json().error.message).toMatch(/confined to tenant acme/);
  });

  it('lets a user token use only its own user’s turns, history and messages', async () => {
    const ann = await userToken('ann');
    expect((await call('POST', '/v1/users/ann/messages', ann, msg)).json()).toEqual({
      accepted: 'ann',
      by: 'user',
    });
    expect((await call('GET', '/v1/users/ann/history', ann)).statusCode).toBe(200);
    expect((await call('GET', '/v1/turns/t_ann', ann)).statusCode).toBe(200);
    const other = await call('POST', '/v1/users/bob/messages', ann, msg);
    expect(other.statusCode).toBe(403);
    expect(other.json().error.message).toMatch(/only be used for its own user \(ann\)/);
    expect((await call('GET', '/v1/users/bob/history', ann)).statusCode).toBe(403);
    expect((await call('GET', '/v1/turns/t_bob', ann)).statusCode).toBe(404);
    expect((await call('PUT', '/v1/users/ann/profile', ann, {})).statusCode).toBe(403);
    expect((await call('POST', '/v1/documents', ann, { tenant: 'acme' })).statusCode).toBe(403);
    expect((await call('GET', '/admin/queues', ann)).statusCode).toBe(403);
  });

  it('refuses expired, centuries-long, forged, unsigned and subject-less tokens, saying why', async () => {
    const cases: [string, RegExp][] = [
      [await userToken('ann', { exp: '-5m' }), /expired/],
      [await userToken('ann', { exp: '100y' }), /lifetime .*JWT_MAX_LIFETIME_SECONDS/],
      [await userToken('ann', { secret: 'another-secret-another-secret-another!' }), /signature is invalid/],
      [await userToken('not a user id'), /subject \(sub\) must be a userId/],
      [
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"ann"}').toString('base64url')}.`,
        /none are not accepted/,
      ],
    ];
    for (const [token, why] of cases) {
      const res = await call('GET', '/v1/users/ann/history', token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toMatch(why);
    }
  });

  it('checks issuer and audience when configured, and verifies RS/ES tokens from a JWKS URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const idp = await buildApp({
      pool,
      redis,
      config: {
        JWT_SECRET: undefined,
        JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
        JWT_ISSUER: 'https://idp.example',
        JWT_AUDIENCE: 'agent-fleet',
      },
    });
    try {
      const sign = (claims: { iss?: string; aud?: string; kid?: string }) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: claims.kid ?? 'k1' })
          .setSubject('ann')
          .setIssuer(claims.iss ?? 'https://idp.example')
          .setAudience(claims.aud ?? 'agent-fleet')
          .setExpirationTime('5m')
          .sign(privateKey);
      const get = async (token: string) =>
        idp.inject({
          method: 'GET',
          url: '/v1/users/ann/history',
          headers: { authorization: `Bearer ${token}` },
        });
      expect((await get(await sign({}))).statusCode).toBe(200);
      expect((await get(await sign({ iss: 'https://evil.example' }))).json().error.message).toMatch(
        /iss claim/,
      );
      expect((await get(await sign({ aud: 'someone-else' }))).json().error.message).toMatch(/aud claim/);
      expect((await get(await sign({ kid: 'unknown' }))).statusCode).toBe(401);
      // An HS256 token is not accepted when no secret is configured, even one signed with the public key.
      expect((await get(await userToken('ann'))).json().error.message).toMatch(/HS256 are not accepted/);
    } finally {
      await idp.close();
      server.close();
    }
  });

  it('refuses user tokens with a clear message when no JWT key is configured', async () => {
    const keysOnly = await buildApp({ pool, redis, config: { JWT_SECRET: undefined } });
    try {
      const res = await keysOnly.inject({
        method: 'GET',
        url: '/v1/users/ann/history',
        headers: { authorization: `Bearer ${await userToken('ann')}` },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toMatch(/no JWT_SECRET or JWT_JWKS_URL/);
    } finally {
      await keysOnly.close();
    }
  });

  it('limits each user and each key, answering 429 with Retry-After', async () => {
    const limited = await buildApp({
      pool,
      redis,
      config: {
        RATE_LIMIT_USER_PER_SECOND: 1,
        RATE_LIMIT_USER_BURST: 2,
        RATE_LIMIT_KEY_PER_SECOND: 1,
        RATE_LIMIT_KEY_BURST: 4,
      },
    });
    try {
      const post = (userId: string, credential: string) =>
        limited.inject({
          method: 'POST',
          url: `/v1/users/${userId}/messages`,
          headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
          payload: JSON.stringify(msg),
        });
      expect((await post('ann', key.actor)).statusCode).toBe(200);
      expect((await post('ann', key.actor)).statusCode).toBe(200);
      const user = await post('ann', key.actor);
      expect(user.statusCode).toBe(429);
      expect(user.headers['retry-after']).toBe('1');
      expect(user.json().error).toMatchObject({ code: 'rate_limited', details: { reason: 'user_rate' } });
      expect((await post('bob', key.actor)).statusCode).toBe(200);
      const keyLimit = await post('cy', key.actor); // the key's 4 are spent: ann x3 (one refused) and bob
      expect(keyLimit.statusCode).toBe(429);
      expect(keyLimit.json().error.details.reason).toBe('key_rate');
      // A user token counts against its own user, whichever key is busy.
      const dee = await userToken('dee');
      expect((await post('dee', dee)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('AUTH_MODE=off lets everyone in as an admin, still limiting per user', async () => {
    const open = await buildApp({
      pool,
      redis,
      config: { AUTH_MODE: 'off', RATE_LIMIT_USER_PER_SECOND: 1, RATE_LIMIT_USER_BURST: 1 },
    });
    try {
      expect((await open.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(200);
      const post = () =>
        open.inject({ method: 'POST', url: '/v1/users/ann/messages', payload: msg, headers: {} });
      expect((await post()).statusCode).toBe(200);
      expect((await post()).statusCode).toBe(429);
    } finally {
      await open.close();
    }
  });

  it('sheds message-accepting routes with 429 and Retry-After while the backlog is over the limit', async () => {
    const ns = freshNamespace();
    const queues = [0, 1].map(
      (i) => new Queue(partitionQueueName(i), { connection: redis, prefix: partitionQueuePrefix(ns, i) }),
    );
    const backlog = new WorkBacklog({ connection: redis, namespace: ns, partitions: 2 });
    const shedder = createLoadShedder({
      measure: () => backlog.total(),
      limit: 3,
      refreshMs: 60_000,
      retryAfterSeconds: 7,
    });
    const shed = await buildApp({ pool, redis, config: {}, shedder });
    try {
      const post = () =>
        shed.inject({
          method: 'POST',
          url: '/v1/users/ann/messages',
          headers: { authorization: `Bearer ${key.actor}`, 'content-type': 'application/json' },
          payload: JSON.stringify(msg),
        });
      await queues[0]!.addBulk([1, 2].map((i) => ({ name: 'turn', data: { i } })));
      await queues[1]!.add('turn', {}, { priority: 5 });
      expect(await shedder.refresh()).toBe(3);
      expect((await post()).statusCode).toBe(200);
      await queues[1]!.add('turn', {});
      expect(await shedder.refresh()).toBe(4);
      const res = await post();
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.json().error.details).toMatchObject({ reason: 'backlog', backlog: 4, limit: 3 });
      expect(
        (
          await shed.inject({
            method: 'GET',
            url: '/v1/users/ann/history',
            headers: { authorization: `Bearer ${key.actor}` },
          })
        ).statusCode,
      ).toBe(200);
    } finally {
      shedder.close();
      await shed.close();
      await Promise.all([...queues.map((q) => q.close()), backlog.close()]);
    }
  });
});
