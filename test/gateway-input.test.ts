import { userKeys } from '@agent-fleet/core';
import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import { afterAll, describe, expect, it } from 'vitest';
import { useGateway } from './support/gateway.ts';
import { freshNamespace } from './support/stack.ts';

describe('bad input at every route gets a 4xx naming the problem and enqueues nothing', () => {
  const ns = freshNamespace();
  let sim: RunningSim;
  afterAll(async () => {
    await sim?.close();
  });
  const { app, deps } = useGateway({
    env: async () => {
      sim = await startSim({ engine: { timeScale: 0 } });
      return { LLM_BASE_URLS: sim.url, FLEET_NAMESPACE: ns, AUTH_MODE: 'off' };
    },
  });

  const json = { 'content-type': 'application/json' };
  const post = (url: string, payload: string, headers: Record<string, string> = json) =>
    app.inject({ method: 'POST', url, payload, headers });
  const get = (url: string) => app.inject({ method: 'GET', url });
  /** A message of alice's, then her profile, then a document, with `payload` as the body. */
  const message = (payload: string, headers?: Record<string, string>) =>
    post('/v1/users/alice/messages', payload, headers);
  const profile = (payload: string) => put('/v1/users/alice/profile', payload);
  const doc = (payload: string) => post('/v1/documents', payload);
  const del = (url: string) => app.inject({ method: 'DELETE', url });
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
  /** A small Markdown file named `name` uploaded to tenant acme for group g, with `fields` besides. */
  const markdownUpload = (name: string, fields: [string, string][] = []) =>
    multipart([['tenant', 'acme'], ['acl', 'g'], ...fields], {
      name,
      type: 'text/markdown',
      data: Buffer.from('# A\n\nsome text'),
    });
  const big = 'é'.repeat(16 * 1024 + 1); // 32 KiB + 2 bytes in UTF-8, 16 K characters

  interface Case {
    name: string;
    send: () => ReturnType<typeof post>;
    status: number;
    code: string;
    mentions: RegExp;
  }
  /** A request refused with 400 invalid_request, its message matching `mentions`. */
  const invalid = (name: string, send: Case['send'], mentions: RegExp): Case => ({
    name,
    send,
    status: 400,
    code: 'invalid_request',
    mentions,
  });
  const cases: Case[] = [
    invalid('userId with a colon', () => post('/v1/users/bad:user/messages', '{"text":"hi"}'), /userId/),
    invalid('userId with braces', () => post('/v1/users/%7Bx%7D/messages', '{"text":"hi"}'), /userId/),
    invalid('userId with a space', () => post('/v1/users/a%20b/messages', '{"text":"hi"}'), /userId/),
    invalid(
      'userId too long',
      () => post(`/v1/users/${'u'.repeat(129)}/messages`, '{"text":"hi"}'),
      /userId/,
    ),
    invalid('missing text', () => message('{}'), /text/),
    invalid('empty text', () => message('{"text":""}'), /text/),
    invalid('blank text', () => message('{"text":"   \\n"}'), /text/),
    invalid('text not a string', () => message('{"text":42}'), /text/),
    {
      name: 'oversized text',
      send: () => message(JSON.stringify({ text: big })),
      status: 413,
      code: 'payload_too_large',
      mentions: /text.*32768/,
    },
    {
      name: 'malformed JSON',
      send: () => message('{"text": "hi"'),
      status: 400,
      code: 'invalid_json',
      mentions: /JSON/,
    },
    invalid('JSON array body', () => message('["hi"]'), /body/),
    {
      name: 'wrong content type',
      send: () => message('text=hi', { 'content-type': 'text/plain' }),
      status: 415,
      code: 'unsupported_media_type',
      mentions: /content-type|media type|Unsupported/i,
    },
    invalid('bad threadId', () => message('{"text":"hi","threadId":"a/b"}'), /threadId/),
    invalid(
      'bad Idempotency-Key',
      () => message('{"text":"hi"}', { ...json, 'idempotency-key': 'has space' }),
      /Idempotency-Key|idempotency-key/,
    ),
    invalid('malformed turnId', () => get('/v1/turns/nope'), /turnId/),
    {
      name: 'unknown turn',
      send: () => app.inject({ method: 'GET', url: `/v1/turns/t_${'0'.repeat(32)}` }),
      status: 404,
      code: 'not_found',
      mentions: /turn t_0+ not found/,
    },
    invalid('history of a bad userId', () => get('/v1/users/x:y/history'), /userId/),
    invalid('history limit 0', () => get('/v1/users/alice/history?limit=0'), /limit/),
    invalid('history limit not a number', () => get('/v1/users/alice/history?limit=lots'), /limit/),
    invalid('history negative afterSeq', () => get('/v1/users/alice/history?afterSeq=-1'), /afterSeq/),
    invalid('profile without tenant', () => profile('{"groups":[]}'), /tenant/),
    invalid('profile with a bad group', () => profile('{"tenant":"acme","groups":["no spaces"]}'), /group/),
    invalid(
      'profile of a bad userId',
      () => put('/v1/users/a:b/profile', '{"tenant":"acme","groups":[]}'),
      /userId/,
    ),
    {
      name: 'profile that does not exist',
      send: () => get('/v1/users/nobody/profile'),
      status: 404,
      code: 'not_found',
      mentions: /nobody has no profile/,
    },
    invalid('document without text', () => doc('{"title":"t","tenant":"acme","acl":["g"]}'), /text/),
    invalid(
      'document with a bad tenant',
      () => doc('{"title":"t","text":"x","tenant":"a b","acl":["g"]}'),
      /tenant/,
    ),
    invalid(
      'document nobody may read',
      () => doc('{"title":"t","text":"some text","tenant":"acme","acl":[]}'),
      /no group|readable|public/i,
    ),
    invalid('document upload without a file', () => multipart([['tenant', 'acme']]), /file/),
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
    invalid(
      'document upload of a broken PDF',
      () =>
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
      /broken\.pdf|PDF/,
    ),
    invalid('delete without tenant', () => del('/v1/documents/doc-1'), /tenant/),
    invalid('delete of a bad docId', () => del('/v1/documents/a%20b?tenant=acme'), /docId/),
    invalid('NUL in a message text', () => message('{"text":"a\\u0000b"}'), /body\.text.*NUL/),
    invalid(
      'NUL in a key of the message body',
      () => message('{"text":"hi","x\\u0000y":1}'),
      /body\["x\\u0000y"\].*NUL/,
    ),
    invalid(
      'NUL in a profile roleContext',
      () => profile('{"tenant":"acme","groups":[],"roleContext":"you\\u0000are"}'),
      /body\.roleContext.*NUL/,
    ),
    invalid(
      'NUL in a tenant default profile roleContext',
      () => put('/v1/tenants/acme/default-profile', '{"groups":[],"roleContext":"\\u0000"}'),
      /body\.roleContext.*NUL/,
    ),
    invalid(
      'NUL in a JSON document title',
      () => doc('{"title":"t\\u0000","text":"some text","tenant":"acme","acl":["g"]}'),
      /body\.title.*NUL/,
    ),
    invalid(
      'NUL in a nested JSON document field',
      () => doc('{"title":"t","text":"x","tenant":"acme","acl":["g","\\u0000"]}'),
      /body\.acl\.1.*NUL/,
    ),
    invalid('NUL in a multipart field', () => markdownUpload('a.md', [['title', 'a\u0000b']]), /title.*NUL/),
    invalid('NUL in a multipart file name', () => markdownUpload('a\u0000.md'), /filename.*NUL/),
    invalid('NUL in a query parameter', () => get('/v1/users/alice/history?limit=1&x=%00'), /query\.x.*NUL/),
    {
      name: 'unknown route',
      send: () => get('/v1/nothing-here'),
      status: 404,
      code: 'not_found',
      mentions: /no route/,
    },
    {
      name: 'wrong method',
      send: () => del('/v1/users/alice/messages'),
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
