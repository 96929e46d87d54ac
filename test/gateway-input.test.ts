import { createLogger, loadConfig, userKeys } from '@agent-fleet/core';
import { buildGateway, createGatewayDeps, type GatewayDeps } from '@agent-fleet/gateway';
import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from './support/stack.ts';

describe('bad input at every route gets a 4xx naming the problem and enqueues nothing', () => {
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let ns: string;
  let sim: RunningSim;

  beforeAll(async () => {
    ns = freshNamespace();
    sim = await startSim({ engine: { timeScale: 0 } });
    const config = loadConfig({
      LLM_BASE_URLS: sim.url,
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: ns,
      AUTH_MODE: 'off',
    });
    deps = await createGatewayDeps(config, createLogger('test', 'silent'));
    app = await buildGateway(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
    await sim?.close();
  });

  const json = { 'content-type': 'application/json' };
  const post = (url: string, payload: string, headers: Record<string, string> = json) =>
    app.inject({ method: 'POST', url, payload, headers });
  const put = (url: string, payload: string) => app.inject({ method: 'PUT', url, payload, headers: json });
  const multipart = (fields: [string, string][], file?: { name: string; type: string; data: Buffer }) => {
    const boundary = 'fleetboundary';
    const parts: Buffer[] = fields.map(([k, v]) =>
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`),
    );
    if (file) {
      parts.push(
        Buffer.from(
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${file.name}"\r\ncontent-type: ${file.type}\r\n\r\n`,
        ),
        file.data,
        Buffer.from('\r\n'),
      );
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    return app.inject({
      method: 'POST',
      url: '/v1/documents',
      payload: Buffer.concat(parts),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
  };
  const big = 'é'.repeat(16 * 1024 + 1); // 32 KiB + 2 bytes in UTF-8, 16 K characters

  const cases: {
    name: string;
    send: () => ReturnType<typeof post>;
    status: number;
    code: string;
    mentions: RegExp;
  }[] = [
    {
      name: 'userId with a colon',
      send: () => post('/v1/users/bad:user/messages', '{"text":"hi"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'userId with braces',
      send: () => post('/v1/users/%7Bx%7D/messages', '{"text":"hi"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'userId with a space',
      send: () => post('/v1/users/a%20b/messages', '{"text":"hi"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'userId too long',
      send: () => post(`/v1/users/${'u'.repeat(129)}/messages`, '{"text":"hi"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'missing text',
      send: () => post('/v1/users/alice/messages', '{}'),
      status: 400,
      code: 'invalid_request',
      mentions: /text/,
    },
    {
      name: 'empty text',
      send: () => post('/v1/users/alice/messages', '{"text":""}'),
      status: 400,
      code: 'invalid_request',
      mentions: /text/,
    },
    {
      name: 'blank text',
      send: () => post('/v1/users/alice/messages', '{"text":"   \\n"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /text/,
    },
    {
      name: 'text not a string',
      send: () => post('/v1/users/alice/messages', '{"text":42}'),
      status: 400,
      code: 'invalid_request',
      mentions: /text/,
    },
    {
      name: 'oversized text',
      send: () => post('/v1/users/alice/messages', JSON.stringify({ text: big })),
      status: 413,
      code: 'payload_too_large',
      mentions: /text.*32768/,
    },
    {
      name: 'malformed JSON',
      send: () => post('/v1/users/alice/messages', '{"text": "hi"'),
      status: 400,
      code: 'invalid_json',
      mentions: /JSON/,
    },
    {
      name: 'JSON array body',
      send: () => post('/v1/users/alice/messages', '["hi"]'),
      status: 400,
      code: 'invalid_request',
      mentions: /body/,
    },
    {
      name: 'wrong content type',
      send: () => post('/v1/users/alice/messages', 'text=hi', { 'content-type': 'text/plain' }),
      status: 415,
      code: 'unsupported_media_type',
      mentions: /content-type|media type|Unsupported/i,
    },
    {
      name: 'bad threadId',
      send: () => post('/v1/users/alice/messages', '{"text":"hi","threadId":"a/b"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /threadId/,
    },
    {
      name: 'bad Idempotency-Key',
      send: () =>
        post('/v1/users/alice/messages', '{"text":"hi"}', { ...json, 'idempotency-key': 'has space' }),
      status: 400,
      code: 'invalid_request',
      mentions: /Idempotency-Key|idempotency-key/,
    },
    {
      name: 'malformed turnId',
      send: () => app.inject({ method: 'GET', url: '/v1/turns/nope' }),
      status: 400,
      code: 'invalid_request',
      mentions: /turnId/,
    },
    {
      name: 'unknown turn',
      send: () => app.inject({ method: 'GET', url: `/v1/turns/t_${'0'.repeat(32)}` }),
      status: 404,
      code: 'not_found',
      mentions: /turn t_0+ not found/,
    },
    {
      name: 'history of a bad userId',
      send: () => app.inject({ method: 'GET', url: '/v1/users/x:y/history' }),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'history limit 0',
      send: () => app.inject({ method: 'GET', url: '/v1/users/alice/history?limit=0' }),
      status: 400,
      code: 'invalid_request',
      mentions: /limit/,
    },
    {
      name: 'history limit not a number',
      send: () => app.inject({ method: 'GET', url: '/v1/users/alice/history?limit=lots' }),
      status: 400,
      code: 'invalid_request',
      mentions: /limit/,
    },
    {
      name: 'history negative afterSeq',
      send: () => app.inject({ method: 'GET', url: '/v1/users/alice/history?afterSeq=-1' }),
      status: 400,
      code: 'invalid_request',
      mentions: /afterSeq/,
    },
    {
      name: 'profile without tenant',
      send: () => put('/v1/users/alice/profile', '{"groups":[]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /tenant/,
    },
    {
      name: 'profile with a bad group',
      send: () => put('/v1/users/alice/profile', '{"tenant":"acme","groups":["no spaces"]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /group/,
    },
    {
      name: 'profile of a bad userId',
      send: () => put('/v1/users/a:b/profile', '{"tenant":"acme","groups":[]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /userId/,
    },
    {
      name: 'profile that does not exist',
      send: () => app.inject({ method: 'GET', url: '/v1/users/nobody/profile' }),
      status: 404,
      code: 'not_found',
      mentions: /nobody has no profile/,
    },
    {
      name: 'document without text',
      send: () => post('/v1/documents', '{"title":"t","tenant":"acme","acl":["g"]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /text/,
    },
    {
      name: 'document with a bad tenant',
      send: () => post('/v1/documents', '{"title":"t","text":"x","tenant":"a b","acl":["g"]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /tenant/,
    },
    {
      name: 'document nobody may read',
      send: () => post('/v1/documents', '{"title":"t","text":"some text","tenant":"acme","acl":[]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /no group|readable|public/i,
    },
    {
      name: 'document upload without a file',
      send: () => multipart([['tenant', 'acme']]),
      status: 400,
      code: 'invalid_request',
      mentions: /file/,
    },
    {
      name: 'document upload of binary junk',
      send: () =>
        multipart(
          [
            ['tenant', 'acme'],
            ['acl', 'g'],
          ],
          {
            name: 'junk.bin',
            type: 'application/octet-stream',
            data: Buffer.from([0, 159, 146, 150, 0, 255, 1, 2]),
          },
        ),
      status: 415,
      code: 'unsupported_media_type',
      mentions: /junk\.bin/,
    },
    {
      name: 'document upload of a broken PDF',
      send: () =>
        multipart(
          [
            ['tenant', 'acme'],
            ['acl', 'g'],
          ],
          {
            name: 'broken.pdf',
            type: 'application/pdf',
            data: Buffer.from('%PDF-1.7 this is not really a pdf'),
          },
        ),
      status: 400,
      code: 'invalid_request',
      mentions: /broken\.pdf|PDF/,
    },
    {
      name: 'delete without tenant',
      send: () => app.inject({ method: 'DELETE', url: '/v1/documents/doc-1' }),
      status: 400,
      code: 'invalid_request',
      mentions: /tenant/,
    },
    {
      name: 'delete of a bad docId',
      send: () => app.inject({ method: 'DELETE', url: '/v1/documents/a%20b?tenant=acme' }),
      status: 400,
      code: 'invalid_request',
      mentions: /docId/,
    },
    {
      name: 'NUL in a message text',
      send: () => post('/v1/users/alice/messages', '{"text":"a\\u0000b"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\.text.*NUL/,
    },
    {
      name: 'NUL in a key of the message body',
      send: () => post('/v1/users/alice/messages', '{"text":"hi","x\\u0000y":1}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\["x\\u0000y"\].*NUL/,
    },
    {
      name: 'NUL in a profile roleContext',
      send: () =>
        put('/v1/users/alice/profile', '{"tenant":"acme","groups":[],"roleContext":"you\\u0000are"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\.roleContext.*NUL/,
    },
    {
      name: 'NUL in a tenant default profile roleContext',
      send: () => put('/v1/tenants/acme/default-profile', '{"groups":[],"roleContext":"\\u0000"}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\.roleContext.*NUL/,
    },
    {
      name: 'NUL in a JSON document title',
      send: () =>
        post('/v1/documents', '{"title":"t\\u0000","text":"some text","tenant":"acme","acl":["g"]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\.title.*NUL/,
    },
    {
      name: 'NUL in a nested JSON document field',
      send: () => post('/v1/documents', '{"title":"t","text":"x","tenant":"acme","acl":["g","\\u0000"]}'),
      status: 400,
      code: 'invalid_request',
      mentions: /body\.acl\.1.*NUL/,
    },
    {
      name: 'NUL in a multipart field',
      send: () =>
        multipart(
          [
            ['tenant', 'acme'],
            ['acl', 'g'],
            ['title', 'a\u0000b'],
          ],
          { name: 'a.md', type: 'text/markdown', data: Buffer.from('# A\n\nsome text') },
        ),
      status: 400,
      code: 'invalid_request',
      mentions: /title.*NUL/,
    },
    {
      name: 'NUL in a multipart file name',
      send: () =>
        multipart(
          [
            ['tenant', 'acme'],
            ['acl', 'g'],
          ],
          { name: 'a\u0000.md', type: 'text/markdown', data: Buffer.from('# A\n\nsome text') },
        ),
      status: 400,
      code: 'invalid_request',
      mentions: /filename.*NUL/,
    },
    {
      name: 'NUL in a query parameter',
      send: () => app.inject({ method: 'GET', url: '/v1/users/alice/history?limit=1&x=%00' }),
      status: 400,
      code: 'invalid_request',
      mentions: /query\.x.*NUL/,
    },
    {
      name: 'unknown route',
      send: () => app.inject({ method: 'GET', url: '/v1/nothing-here' }),
      status: 404,
      code: 'not_found',
      mentions: /no route/,
    },
    {
      name: 'wrong method',
      send: () => app.inject({ method: 'DELETE', url: '/v1/users/alice/messages' }),
      status: 404,
      code: 'not_found',
      mentions: /no route/,
    },
  ];

  it.each(cases)('$name → $status $code', async ({ send, status, code, mentions }) => {
    const res = await send();
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = res.json();
    expect(body.error.code).toBe(code);
    expect(body.error.message).toMatch(mentions);
  });

  it('a NUL in a chat completion is refused in the OpenAI error shape, naming the message', async () => {
    const res = await post(
      '/v1/chat/completions',
      JSON.stringify({
        model: 'fleet-agent',
        user: 'alice',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'a\u0000b' },
        ],
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_request',
        param: 'messages.1.content',
        message: expect.stringMatching(/body\.messages\.1\.content.*NUL/),
      },
    });
  });

  it('none of them enqueued a job or touched a user', async () => {
    const counts = await Promise.all(deps.partitions.queues.map((q) => q.getJobCounts()));
    for (const c of counts) expect(Object.values(c).reduce((a, b) => a + b, 0)).toBe(0);
    // Only the work queues' own metadata (every queue whose backlog the gateway measures) and the
    // rate limiter's counters exist (rejected requests count against a caller's rate too): no user
    // state, no turn.
    const keys = await deps.redis.keys(`${ns}:*`);
    // A queue's metadata key is `<prefix>:<queue>:meta`; every queue prefix carries a hash tag.
    const other = keys.filter((key) => !/^[^:]+:\{[^}]+\}:[^:]+:meta$/.test(key) && !key.includes(':{rl:'));
    expect(other).toEqual([]);
  });

  it('a good message is accepted, and the same Idempotency-Key returns the same turn without a second job', async () => {
    const headers = { ...json, 'idempotency-key': 'req-1' };
    const first = await post('/v1/users/alice/messages', '{"text":"hello"}', headers);
    expect(first.statusCode).toBe(202);
    const again = await post('/v1/users/alice/messages', '{"text":"hello"}', headers);
    expect(again.statusCode).toBe(202);
    expect(again.json().turnId).toBe(first.json().turnId);
    expect(again.json().seq).toBe(1);
    const turn = await app.inject({ method: 'GET', url: `/v1/turns/${first.json().turnId}` });
    expect(turn.json()).toMatchObject({ status: 'queued', seq: 1, userId: 'alice' });
    const counts = await Promise.all(
      deps.partitions.queues.map((q) => q.getJobCountByTypes('wait', 'prioritized')),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('the same Idempotency-Key with a different body is refused with 422, and enqueues nothing', async () => {
    const headers = { ...json, 'idempotency-key': 'req-2' };
    const first = await post('/v1/users/bob/messages', '{"text":"pay 10"}', headers);
    expect(first.statusCode).toBe(202);
    for (const body of ['{"text":"pay 1000"}', '{"text":"pay 10","threadId":"other"}']) {
      const reused = await post('/v1/users/bob/messages', body, headers);
      expect(reused.statusCode).toBe(422);
      expect(reused.json()).toEqual({
        error: {
          code: 'idempotency_key_reused',
          message: expect.stringMatching(/Idempotency-Key req-2/),
          details: { turnId: first.json().turnId, idempotencyKey: 'req-2' },
        },
      });
    }
    const chat = await post(
      '/v1/chat/completions',
      JSON.stringify({
        model: 'fleet-agent',
        user: 'bob',
        messages: [{ role: 'user', content: 'pay 1000' }],
      }),
      headers,
    );
    expect(chat.statusCode).toBe(422);
    expect(chat.json().error).toMatchObject({
      code: 'idempotency_key_reused',
      type: 'invalid_request_error',
    });
    expect(await deps.redis.get(userKeys(ns, 'bob').seq)).toBe('1');
  });

  it('health, readiness and metrics answer', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok', llm: 'ok' } });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/fleet_queue_backlog\{queue="agent.p0"\}/);
    const board = await app.inject({ method: 'GET', url: '/admin/queues' });
    expect(board.statusCode).toBe(200);
  });
});
