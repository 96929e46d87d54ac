import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type FleetConfig, loadConfig } from '@agent-fleet/core';
import { type ServiceHandle, spawnService } from '@agent-fleet/devstack';
import { buildGateway, createGatewayDeps, type GatewayDeps } from '@agent-fleet/gateway';
import { startSim } from '@agent-fleet/llm-sim';
import { newRunId, ReviewStore } from '@agent-fleet/review';
import { type ApiKeyScope, ApiKeyStore } from '@agent-fleet/state';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/fleet.ts';
import { NO_RATE_LIMITS, userToken } from './support/gateway.ts';
import { freshDatabase, freshNamespace, redisUrl } from './support/stack.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const JWT_SECRET = 'authz-test-secret-long-enough-for-hs256!!';

/** Who calls: no credentials, a key lacking the route's scope, another user, the right caller. */
type Caller = 'none' | 'wrongScope' | 'otherUser' | 'right';
const CALLERS: readonly Caller[] = ['none', 'wrongScope', 'otherUser', 'right'];

/** The credentials of the matrix, all real: keys from ApiKeyStore, HS256 user tokens. */
type Credential =
  | 'ann' // user token of ann, whose data the routes address
  | 'bob' // user token of another user
  | 'admin' // key: admin
  | 'actor' // key: messages:write + turns:read, acts for users
  | 'ownScopesOnly' // key: messages:write + turns:read, may NOT act for users
  | 'docsAcme' // key: documents:write confined to tenant acme, acts for users
  | 'docsGlobex' // key: documents:write confined to tenant globex
  | 'reviewer' // key: reviews, acts for users
  | 'reviewerGlobex'; // key: reviews confined to tenant globex, acts for users

interface Row {
  route: string;
  /** One request per caller; `undefined` credential sends none. */
  send: (credential: Credential | undefined) => Promise<{ statusCode: number; body: string }>;
  /** The credential each caller uses (`none` always uses none); omitted callers do not apply. */
  as: Partial<Record<Exclude<Caller, 'none'>, Credential>>;
  expect: Partial<Record<Caller, number>>;
}

/** Ann's own data: her token is the right caller, bob's another user's, a documents key lacks the scope. */
const annsOwn = (right: number, otherUser = 403): Pick<Row, 'as' | 'expect'> => ({
  as: { wrongScope: 'docsAcme', otherUser: 'bob', right: 'ann' },
  expect: { none: 401, wrongScope: 403, otherUser, right },
});
/** Ann's data through keys: one that may not act for users is refused, one that may is let in. */
const actingForUsers = (right: number, otherUser = 403): Pick<Row, 'as' | 'expect'> => ({
  as: { otherUser: 'ownScopesOnly', right: 'actor' },
  expect: { otherUser, right },
});
/** The operator's: an admin key only, not a user's token nor a messages key. */
const ADMIN_ONLY: Pick<Row, 'as' | 'expect'> = {
  as: { wrongScope: 'actor', otherUser: 'ann', right: 'admin' },
  expect: { none: 401, wrongScope: 403, otherUser: 403, right: 200 },
};
/** A review of acme's: a reviews key; one confined to another tenant is told it does not exist. */
const acmeReview = (right: number): Pick<Row, 'as' | 'expect'> => ({
  as: { wrongScope: 'actor', otherUser: 'reviewerGlobex', right: 'reviewer' },
  expect: { none: 401, wrongScope: 403, otherUser: 404, right },
});

describe('authorization matrix: every route × { no auth, wrong scope, other user, right caller }', () => {
  let sim: Awaited<ReturnType<typeof startSim>>;
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let worker: ServiceHandle;
  let annTurn: string;
  let revokableKeyId: string;
  /** A review of ann's that has completed, and one never started (to cancel, then resume). */
  let annReview: string;
  let parkedReview: string;
  /** The first run of a schedule of ann's (its cron fires at 03:00, never during the test). */
  let scheduledReview: string;
  const creds = {} as Record<Credential, string>;

  beforeAll(async () => {
    sim = await startSim({ engine: { timeScale: 0 } });
    const env = {
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: freshNamespace(),
      LLM_BASE_URLS: sim.url,
      AUTH_MODE: 'required',
      JWT_SECRET,
      ...NO_RATE_LIMITS,
      API_KEY_CACHE_SECONDS: '0',
      LOG_LEVEL: 'warn',
    };
    const config: FleetConfig = loadConfig(env);
    deps = await createGatewayDeps(config, createLogger('authz', 'silent'));
    app = await buildGateway(deps);
    // A real worker process, so the right caller of the chat endpoint gets its answer.
    worker = spawnService({
      name: 'worker',
      script: join(root, 'packages/worker/src/main.ts'),
      env: { PATH: process.env.PATH ?? '', ...env },
      logFile: join(root, '.fleet', 'test-logs', env.FLEET_NAMESPACE, 'worker.log'),
      readyEvent: 'ready',
    });

    const store = new ApiKeyStore({ pool: deps.pool });
    const key = async (scopes: ApiKeyScope[], opts: { actAsUsers?: boolean; tenant?: string } = {}) =>
      (await store.create({ name: scopes.join(' '), scopes, ...opts })).key;
    const token = (sub: string) => userToken(JWT_SECRET, sub, '10m');
    Object.assign(creds, {
      ann: await token('ann'),
      bob: await token('bob'),
      admin: await key(['admin']),
      actor: await key(['messages:write', 'turns:read'], { actAsUsers: true }),
      ownScopesOnly: await key(['messages:write', 'turns:read']),
      docsAcme: await key(['documents:write'], { actAsUsers: true, tenant: 'acme' }),
      docsGlobex: await key(['documents:write'], { tenant: 'globex' }),
      reviewer: await key(['reviews'], { actAsUsers: true }),
      reviewerGlobex: await key(['reviews'], { actAsUsers: true, tenant: 'globex' }),
    });
    revokableKeyId = (await store.create({ name: 'to revoke', scopes: ['turns:read'] })).id;
    annTurn = (await deps.producer.accept({ userId: 'ann', text: 'an earlier question' })).turnId;
    await deps.profiles.put('ann', { tenant: 'acme', groups: ['legal'] });
    await worker.ready;
    await waitFor(async () => (await deps.records.get(annTurn))?.status === 'completed', {
      timeoutMs: 30_000,
    });
    const checklist = { items: [{ id: 'keep', requirement: 'Records are kept.' }] };
    const review = {
      userId: 'ann',
      tenant: 'acme',
      checklist,
      priority: 'normal' as const,
      createdBy: 'test',
    };
    annReview = (await deps.reviews.create({ ...review, spec: { documents: ['policy-1'] } })).reviewId;
    scheduledReview = (
      await deps.reviews.create({
        ...review,
        spec: { documents: ['policy-1'] },
        schedule: { cron: '0 3 * * *' },
      })
    ).reviewId;
    parkedReview = newRunId();
    await new ReviewStore({ pool: deps.pool }).createRun({
      ...review,
      runId: parkedReview,
      spec: { documents: [] },
    });
    await waitFor(async () => (await deps.reviews.get(annReview))?.status === 'completed', {
      timeoutMs: 30_000,
    });
  });
  afterAll(async () => {
    await worker?.stop(5000);
    await app?.close();
    await deps?.close();
    await sim?.close();
  });

  const call =
    (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string | (() => string), body?: unknown) =>
    (credential: Credential | undefined) =>
      app.inject({
        method,
        url: typeof url === 'string' ? url : url(),
        headers: {
          accept: 'application/json',
          ...(credential ? { authorization: `Bearer ${creds[credential]}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
  const doc = (tenant: string) => ({
    docId: 'policy-1',
    title: 'Policy',
    text: 'Keep records.',
    tenant,
    acl: ['legal'],
  });
  const chat = (user?: string) => ({
    model: 'fleet-agent',
    messages: [{ role: 'user', content: 'hello' }],
    ...(user ? { user } : {}),
  });

  const rows: Row[] = [
    {
      route: 'POST /v1/users/:userId/messages',
      send: call('POST', '/v1/users/ann/messages', { text: 'hi' }),
      ...annsOwn(202),
    },
    {
      route: 'POST /v1/users/:userId/messages (key that may not act for users)',
      send: call('POST', '/v1/users/ann/messages', { text: 'hi' }),
      ...actingForUsers(202),
    },
    {
      route: 'GET /v1/turns/:turnId',
      send: call('GET', () => `/v1/turns/${annTurn}`),
      // Another user's turn is reported as unknown.
      ...annsOwn(200, 404),
    },
    {
      route: 'GET /v1/turns/:turnId (key that may not act for users)',
      send: call('GET', () => `/v1/turns/${annTurn}`),
      ...actingForUsers(200, 404),
    },
    {
      route: 'GET /v1/users/:userId/history',
      send: call('GET', '/v1/users/ann/history'),
      ...annsOwn(200),
    },
    {
      route: 'GET /v1/users/:userId/history (key that may not act for users)',
      send: call('GET', '/v1/users/ann/history'),
      ...actingForUsers(200),
    },
    {
      route: 'GET /v1/users/:userId/profile',
      send: call('GET', '/v1/users/ann/profile'),
      ...annsOwn(200),
    },
    {
      // Permissions live in the profile: only admins write it, not even the user.
      route: 'PUT /v1/users/:userId/profile',
      send: call('PUT', '/v1/users/ann/profile', { tenant: 'acme', groups: ['legal'] }),
      ...ADMIN_ONLY,
    },
    ...(['PUT', 'GET', 'DELETE'] as const).map(
      (method): Row => ({
        route: `${method} /v1/tenants/:tenant/quota`,
        send: call(method, '/v1/tenants/acme/quota', method === 'PUT' ? { weight: 2 } : undefined),
        // Budgets are the operator's: admin only, not even a tenant's own key.
        ...ADMIN_ONLY,
      }),
    ),
    ...(['PUT', 'DELETE'] as const).map(
      (method): Row => ({
        route: `${method} /v1/users/:userId/quota`,
        send: call(method, '/v1/users/ann/quota', method === 'PUT' ? { day: 100000 } : undefined),
        ...ADMIN_ONLY,
      }),
    ),
    {
      route: 'GET /v1/users/:userId/quota',
      send: call('GET', '/v1/users/ann/quota'),
      ...annsOwn(200),
    },
    {
      route: 'GET /v1/usage (a user’s own)',
      send: call('GET', '/v1/usage?userId=ann&groupBy=model'),
      as: { wrongScope: 'actor', otherUser: 'bob', right: 'ann' },
      expect: { none: 401, wrongScope: 403, otherUser: 403, right: 200 },
    },
    {
      route: 'GET /v1/usage (a tenant’s)',
      send: call('GET', '/v1/usage?tenant=acme&groupBy=user'),
      as: { wrongScope: 'ann', otherUser: 'docsAcme', right: 'admin' },
      expect: { none: 401, wrongScope: 403, otherUser: 403, right: 200 },
    },
    {
      route: 'POST /v1/documents',
      send: call('POST', '/v1/documents', doc('acme')),
      // A user token has no documents scope; a key of another tenant may not write acme's documents.
      as: { wrongScope: 'ann', otherUser: 'docsGlobex', right: 'docsAcme' },
      expect: { none: 401, wrongScope: 403, otherUser: 403, right: 201 },
    },
    {
      route: 'DELETE /v1/documents/:docId',
      send: call('DELETE', '/v1/documents/policy-1?tenant=acme'),
      as: { wrongScope: 'actor', otherUser: 'docsGlobex', right: 'docsAcme' },
      expect: { none: 401, wrongScope: 403, otherUser: 403, right: 200 },
    },
    {
      route: 'POST /v1/reviews',
      send: call('POST', '/v1/reviews', {
        userId: 'ann',
        documents: ['policy-1'],
        checklist: { items: [{ id: 'keep', requirement: 'Records are kept.' }] },
      }),
      // A user token has no reviews scope; a key confined to another tenant may not review acme's.
      as: { wrongScope: 'ann', otherUser: 'reviewerGlobex', right: 'reviewer' },
      expect: { none: 401, wrongScope: 403, otherUser: 403, right: 202 },
    },
    {
      route: 'GET /v1/reviews',
      send: call('GET', '/v1/reviews'),
      as: { wrongScope: 'actor', right: 'reviewer' },
      expect: { none: 401, wrongScope: 403, right: 200 },
    },
    ...(['', '/report', '/report?format=csv', '/events'] as const).map(
      (suffix): Row => ({
        route: `GET /v1/reviews/:reviewId${suffix}`,
        send: call('GET', () => `/v1/reviews/${annReview}${suffix}`),
        // Another tenant's review is reported as unknown.
        ...acmeReview(200),
      }),
    ),
    ...(['cancel', 'resume'] as const).map(
      (action): Row => ({
        route: `POST /v1/reviews/:reviewId/${action}`,
        send: call('POST', () => `/v1/reviews/${parkedReview}/${action}`),
        ...acmeReview(202),
      }),
    ),
    ...(['GET', 'DELETE'] as const).map(
      (method): Row => ({
        route: `${method} /v1/reviews/:reviewId/schedule`,
        send: call(method, () => `/v1/reviews/${scheduledReview}/schedule`),
        ...acmeReview(200),
      }),
    ),
    {
      route: 'GET /v1/review-schedules',
      send: call('GET', '/v1/review-schedules'),
      as: { wrongScope: 'actor', right: 'reviewer' },
      expect: { none: 401, wrongScope: 403, right: 200 },
    },
    {
      route: 'POST /v1/chat/completions',
      send: call('POST', '/v1/chat/completions', chat('ann')),
      ...annsOwn(200),
    },
    {
      route: 'POST /v1/chat/completions (key that may not act for users)',
      send: call('POST', '/v1/chat/completions', chat('ann')),
      ...actingForUsers(200),
    },
    {
      route: 'GET /v1/models',
      send: call('GET', '/v1/models'),
      as: { wrongScope: 'docsAcme', right: 'bob' },
      expect: { none: 401, wrongScope: 403, right: 200 },
    },
    {
      route: 'GET /v1/models/:model',
      send: call('GET', '/v1/models/fleet-agent'),
      as: { wrongScope: 'docsAcme', right: 'ann' },
      expect: { none: 401, wrongScope: 403, right: 200 },
    },
    {
      route: 'DELETE /v1/keys/:keyId',
      send: call('DELETE', () => `/v1/keys/${revokableKeyId}`),
      ...ADMIN_ONLY,
    },
    {
      route: 'GET /v1/admin/fleet',
      send: call('GET', '/v1/admin/fleet'),
      ...ADMIN_ONLY,
    },
    {
      route: 'GET /admin/queues (Bull Board)',
      send: call('GET', '/admin/queues'),
      ...ADMIN_ONLY,
    },
    {
      route: 'GET /admin/queues/api/queues (Bull Board API)',
      send: call('GET', '/admin/queues/api/queues'),
      ...ADMIN_ONLY,
    },
    {
      // The rules follow the route reached, however its path was spelled.
      route: 'GET /%61dmin/queues/api/queues (Bull Board API, percent-encoded)',
      send: call('GET', '/%61dmin/queues/api/queues'),
      ...ADMIN_ONLY,
    },
    ...['/healthz', '/readyz', '/metrics', '/docs', '/docs/json', '/admin/login'].map(
      (path): Row => ({
        route: `GET ${path} (public)`,
        send: call('GET', path),
        as: { wrongScope: 'docsAcme', otherUser: 'bob', right: 'admin' },
        expect: { none: 200, wrongScope: 200, otherUser: 200, right: 200 },
      }),
    ),
  ];

  it('answers each cell with the status the guards define, and every refusal in the one error shape', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const row of rows) {
      for (const caller of CALLERS) {
        const expected = row.expect[caller];
        if (expected === undefined) continue;
        const credential = caller === 'none' ? undefined : row.as[caller];
        const res = await row.send(credential);
        want.push(`${row.route} × ${caller}${credential ? ` (${credential})` : ''} → ${expected}`);
        got.push(`${row.route} × ${caller}${credential ? ` (${credential})` : ''} → ${res.statusCode}`);
        if (res.statusCode >= 400) {
          const body = JSON.parse(res.body) as { error: Record<string, unknown> };
          expect(typeof body.error.code, `${row.route} × ${caller}: error code`).toBe('string');
          expect(typeof body.error.message, `${row.route} × ${caller}: error message`).toBe('string');
        }
      }
    }
    // Compared as a whole, so a failure shows every cell that differs at once.
    expect(got).toEqual(want);
  });

  it('a refusal on the chat endpoint is OpenAI-shaped; elsewhere it is the fleet’s', async () => {
    const chatRes = await call('POST', '/v1/chat/completions', chat('ann'))('bob');
    expect(Object.keys(chatRes.json().error).sort()).toEqual(['code', 'message', 'param', 'type']);
    const fleetRes = await call('GET', '/v1/users/ann/history')('bob');
    expect(fleetRes.json()).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
  });

  it('an admin session cookie opens /admin/* only, and ends with its key', async () => {
    const store = new ApiKeyStore({ pool: deps.pool });
    const operator = await store.create({ name: 'operator', scopes: ['admin'] });
    const login = await app.inject({
      method: 'POST',
      url: '/admin/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ key: operator.key }),
    });
    expect(login.statusCode).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(
      /^fleet_admin=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/admin; HttpOnly; SameSite=Strict$/,
    );
    const cookie = setCookie.split(';')[0]!;
    const get = (url: string, headers: Record<string, string> = {}) =>
      app.inject({ method: 'GET', url, headers: { cookie, ...headers } });
    expect((await get('/admin/queues/api/queues')).statusCode).toBe(200);
    expect((await get('/v1/users/ann/history')).statusCode).toBe(401); // the cookie is no API credential
    expect((await get('/v1/models')).statusCode).toBe(401);
    // A forged or guessed session id is nobody's.
    const forged = await app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: { cookie: `fleet_admin=${'A'.repeat(43)}` },
    });
    expect(forged.statusCode).toBe(401);
    // Another site cannot use the session to change the queues.
    const crossSite = await app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/agent.p0/pause',
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(crossSite.statusCode).toBe(403);
    // Over https (a proxy in front says so) the cookie is Secure.
    const secure = await app.inject({
      method: 'POST',
      url: '/admin/login',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      payload: JSON.stringify({ key: operator.key }),
    });
    expect(String(secure.headers['set-cookie'])).toMatch(/; Secure/);
    // A non-admin key cannot sign in; a revoked key's sessions end at once.
    const notAdmin = await app.inject({
      method: 'POST',
      url: '/admin/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ key: creds.actor }),
    });
    expect(notAdmin.statusCode).toBe(403);
    await store.revoke(operator.id);
    expect((await get('/admin/queues/api/queues')).statusCode).toBe(401);
  });
});
