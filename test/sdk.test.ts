import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '@agent-fleet/state';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { FleetApiError, FleetHttpClient } from '../packages/client/src/index.ts';
import { runNode } from './support/run-node.ts';
import { buildClient } from './support/sdk-build.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { redisEnv } from './support/stack.ts';
import { verifyStrictOrder } from './support/verify.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const PRODUCER = join(root, 'test/fixtures/sdk-producer.ts');
const JWT_SECRET = 'sdk-test-secret-long-enough-for-hs256-000';

describe('the SDK from a separate process: 1,000 turns for 100 users', () => {
  let entry: string;
  beforeAll(() => {
    entry = buildClient();
  });
  const { fleet } = useSimFleet({
    sim: { latencyMs: 5 },
    workers: 2,
    env: {
      HISTORY_TOKEN_BUDGET: '100000',
      WORKER_CONCURRENCY: '8',
      LOG_LEVEL: 'warn',
      AUTH_MODE: 'required',
      JWT_SECRET,
    },
    untilWorkersReady: true,
  });

  it('enqueues straight through BullMQ; every turn completes once, in per-user order', async () => {
    const USERS = 100;
    const PER_USER = 10;
    const res = await runNode(PRODUCER, [entry], {
      ...redisEnv(),
      FLEET_NAMESPACE: fleet.namespace,
      PARTITIONS: '8',
      USERS: String(USERS),
      PER_USER: String(PER_USER),
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({
      sent: USERS * PER_USER,
      completed: USERS * PER_USER,
      failed: [],
      outOfOrder: [],
    });
    expect(summary.sample).toMatchObject({
      status: 'completed',
      seq: 1,
      reply: expect.stringMatching(/^Echo/),
    });
    const users = Array.from({ length: USERS }, (_, i) => `sdk-user-${i}`);
    await verifyStrictOrder(fleet, users, PER_USER);
  });

  it('the HTTP client speaks the gateway API with typed results and errors', async () => {
    const admin = new FleetHttpClient({
      baseUrl: fleet.gatewayUrl,
      apiKey: (await new ApiKeyStore({ pool: fleet.pool }).create({ name: 'sdk test', scopes: ['admin'] }))
        .key,
    });
    const sent = await admin.sendMessage('http-ann', {
      text: 'What is our retention policy?',
      idempotencyKey: 'q-1',
    });
    expect(sent).toMatchObject({ seq: 1, created: true });
    expect(
      await admin.sendMessage('http-ann', { text: 'What is our retention policy?', idempotencyKey: 'q-1' }),
    ).toEqual({ ...sent, created: false });
    await expect(
      admin.sendMessage('http-ann', { text: 'again', idempotencyKey: 'q-1' }),
    ).rejects.toMatchObject({
      code: 'idempotency_key_reused',
      httpStatus: 422,
      isRetryable: false,
    });
    const events: string[] = [];
    for await (const e of admin.streamTurn(sent.turnId, { timeoutMs: 30_000 })) events.push(e.status);
    expect(events.at(-1)).toBe('completed');
    const turn = await admin.waitForTurn(sent.turnId);
    expect(turn).toMatchObject({
      turnId: sent.turnId,
      userId: 'http-ann',
      seq: 1,
      status: 'completed',
      citations: [],
    });
    expect(turn.reply).toMatch(/^Echo/);
    expect(await admin.getTurn('t_00000000000000000000000000000000')).toBeNull();

    const history = await admin.history('http-ann', { limit: 10 });
    expect(history.messages.map((m) => [m.seq, m.role])).toEqual([
      [1, 'user'],
      [1, 'assistant'],
    ]);
    expect(history.nextAfterSeq).toBeNull();

    expect(await admin.getProfile('http-ann')).toBeNull();
    expect(await admin.putProfile('http-ann', { tenant: 'acme', groups: ['legal'] })).toMatchObject({
      userId: 'http-ann',
      tenant: 'acme',
      groups: ['legal'],
    });
    expect((await admin.getProfile('http-ann'))?.groups).toEqual(['legal']);

    const doc = await admin.uploadDocument({
      tenant: 'acme',
      title: 'Retention',
      text: 'Records are kept seven years.',
      acl: ['legal'],
    });
    expect(doc).toMatchObject({ status: 'created', chunks: 1 });
    const file = await admin.uploadDocument({
      tenant: 'acme',
      file: new TextEncoder().encode('# Gifts\n\nGifts above 100 EUR are declared.\n'),
      filename: 'gifts.md',
      mime: 'text/markdown',
      acl: ['legal', 'compliance'],
    });
    expect(file).toMatchObject({ status: 'created', title: 'Gifts' });
    expect(await admin.deleteDocument('acme', file.docId)).toEqual({
      docId: file.docId,
      tenant: 'acme',
      deleted: true,
    });

    const bad = await admin.sendMessage('not valid!', { text: 'x' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(FleetApiError);
    expect(bad).toMatchObject({ code: 'invalid_request', httpStatus: 400, isRetryable: false });
    expect((bad as FleetApiError).message).toMatch(/userId/);
  });

  it('a user token reaches its own user only (when the gateway runs the auth plugin)', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('http-bob')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const bob = new FleetHttpClient({ baseUrl: fleet.gatewayUrl, token });
    const sent = await bob.sendMessage('http-bob', { text: 'hello' });
    expect((await bob.waitForTurn(sent.turnId, { timeoutMs: 30_000 })).status).toBe('completed');
    const other = await bob.history('http-ann').catch((e: unknown) => e);
    expect(other).toMatchObject({ code: 'forbidden', httpStatus: 403 });
    const anon = await new FleetHttpClient({ baseUrl: fleet.gatewayUrl })
      .history('http-bob')
      .catch((e: unknown) => e);
    expect(anon).toMatchObject({ code: 'unauthorized', httpStatus: 401 });
  });
});
