import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig } from '@agent-fleet/core';
import { type RedisServerHandle, startRedisServer } from '@agent-fleet/devstack';
import { buildGateway, createGatewayDeps, type GatewayDeps } from '@agent-fleet/gateway';
import { ApiKeyStore } from '@agent-fleet/state';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/fleet.ts';
import { userToken } from './support/gateway.ts';
import { freshDatabase, freshNamespace } from './support/stack.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const JWT_SECRET = 'outage-test-secret-long-enough-for-hs256!';
const root = fileURLToPath(new URL('../', import.meta.url));

/** The fleet's error shape with code `unavailable`, and a Retry-After to say when to come back. */
function expectUnavailable(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(503);
  const seconds = Number(res.headers['retry-after']);
  expect(seconds, what).toBeGreaterThan(0);
  expect(res.json(), what).toEqual({
    error: { code: 'unavailable', message: expect.any(String), details: { retryAfterSeconds: seconds } },
  });
}

/** The same, saying the request may have been applied: a lost Redis command fails like an unsent one. */
function expectUnavailableOutcomeUnknown(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(503);
  const seconds = Number(res.headers['retry-after']);
  expect(seconds, what).toBeGreaterThan(0);
  expect(res.json(), what).toEqual({
    error: {
      code: 'unavailable',
      message: expect.stringMatching(/Idempotency-Key/),
      details: { retryAfterSeconds: seconds, outcome: 'unknown' },
    },
  });
}

describe('Redis or Postgres away: 503 with Retry-After in the error shape, and service again once back', () => {
  let redisDir: string;
  let redis: RedisServerHandle;
  let proxy: TcpProxy;
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let user: Record<string, string>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    // A Redis of this test's own, which it stops and starts again (never the shared one), and the
    // shared Postgres behind a proxy the test can cut.
    redisDir = mkdtempSync(join(root, '.fleet', 'outage-redis-'));
    redis = await startRedisServer({ dataDir: redisDir });
    const db = new URL(await freshDatabase());
    proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port) });
    db.port = String(proxy.port);
    const config = loadConfig({
      REDIS_URL: redis.url,
      DATABASE_URL: db.toString(),
      FLEET_NAMESPACE: freshNamespace(),
      AUTH_MODE: 'required',
      JWT_SECRET,
    });
    deps = await createGatewayDeps(config, createLogger('outage-test', 'silent'));
    app = await buildGateway(deps);
    const token = await userToken(JWT_SECRET, 'ann');
    user = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const key = await new ApiKeyStore({ pool: deps.pool }).create({ name: 'ops', scopes: ['admin'] });
    admin = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
    await redis?.stop();
    await proxy?.close();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  });

  const send = (text: string) =>
    app.inject({ method: 'POST', url: '/v1/users/ann/messages', headers: user, payload: { text } });
  const chat = () =>
    app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: user,
      payload: { model: 'fleet-agent', messages: [{ role: 'user', content: 'hello' }] },
    });

  it('Redis away: messages, turns and the OpenAI endpoint answer 503; once Redis is back they serve again', async () => {
    const before = await send('before the outage');
    expect(before.statusCode).toBe(202);
    const turnUrl = `/v1/turns/${before.json().turnId}`;

    await redis.stop();
    expectUnavailableOutcomeUnknown(await send('during the outage'), 'POST messages');
    expectUnavailable(await app.inject({ method: 'GET', url: turnUrl, headers: user }), 'GET turn');
    const openAi = await chat();
    expect(openAi.statusCode, openAi.body).toBe(503);
    expect(Number(openAi.headers['retry-after'])).toBeGreaterThan(0);
    expect(openAi.json()).toEqual({
      error: { code: 'unavailable', type: 'server_error', param: null, message: expect.any(String) },
    });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

    redis = await startRedisServer({ dataDir: redisDir, port: redis.port });
    let after: LightMyRequestResponse | undefined;
    await waitFor(
      async () => {
        after = await send('after the outage');
        return after.statusCode === 202;
      },
      { timeoutMs: 20_000, intervalMs: 200, describe: () => after?.body ?? '' },
    );
    expect(after!.json().seq).toBe(2);
    const turn = await app.inject({ method: 'GET', url: turnUrl, headers: user });
    expect(turn.json()).toMatchObject({ status: 'queued', seq: 1 });
  });

  it('Postgres away: routes that need it answer 503; once it is back they serve again', async () => {
    // The admin key is verified (and cached) while Postgres is up.
    expect(
      (await app.inject({ method: 'GET', url: '/v1/users/ann/profile', headers: admin })).statusCode,
    ).toBe(404);
    await proxy.cut();
    const unknownTurn = `/v1/turns/t_${'0'.repeat(32)}`;
    expectUnavailable(
      await app.inject({ method: 'GET', url: '/v1/users/ann/history', headers: user }),
      'history',
    );
    expectUnavailable(
      await app.inject({ method: 'GET', url: unknownTurn, headers: user }),
      'GET turn from Postgres',
    );
    expectUnavailable(
      await app.inject({ method: 'GET', url: '/v1/users/ann/profile', headers: user }),
      'profile',
    );
    expectUnavailable(
      await app.inject({
        method: 'PUT',
        url: '/v1/users/ann/profile',
        headers: admin,
        payload: { tenant: 'acme', groups: ['g'] },
      }),
      'PUT profile',
    );
    expectUnavailable(
      await app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: admin,
        payload: { title: 'T', text: 'some text', tenant: 'acme', acl: ['g'] },
      }),
      'POST document',
    );
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

    await proxy.restore();
    let history: LightMyRequestResponse | undefined;
    await waitFor(
      async () => {
        history = await app.inject({ method: 'GET', url: '/v1/users/ann/history', headers: user });
        return history.statusCode === 200;
      },
      { timeoutMs: 20_000, intervalMs: 200, describe: () => history?.body ?? '' },
    );
    expect(history!.json()).toMatchObject({ userId: 'ann', messages: [] });
  });
});
