import { createLogger, loadConfig } from '@agent-fleet/core';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { buildGateway } from './app.ts';
import { createGatewayDeps, type GatewayDeps } from './deps.ts';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  security: unknown[];
}
interface Operation {
  security?: unknown[];
  parameters?: { in: string; name: string; schema: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

describe('the OpenAPI document at /docs', () => {
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let doc: OpenApiDoc;

  beforeAll(async () => {
    const config = loadConfig({
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: freshNamespace(),
      AUTH_MODE: 'required',
    });
    deps = await createGatewayDeps(config, createLogger('test', 'silent'));
    app = await buildGateway(deps);
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });

  it('is public, as JSON and as a page that loads its assets from the gateway itself', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, 'no asset from another host').not.toMatch(/^(https?:)?\/\//);
      const url = new URL(asset, 'http://gateway/docs/').pathname;
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    // A protected route next to it still asks for credentials.
    expect((await app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(401);
  });

  it('declares bearer security (API key or user JWT) and marks the public routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/admin/login'])
      expect(doc.paths[path]?.get?.security, path).toEqual([]);
    expect(doc.paths['/v1/users/{userId}/messages']?.post?.security).toBeUndefined(); // the default: bearer
  });

  it('lists every API route with the zod schemas it validates with, and leaves Bull Board out', () => {
    expect(
      Object.keys(doc.paths).filter((p) => p.startsWith('/admin/queues') || p.startsWith('/docs')),
    ).toEqual([]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/admin/login',
        '/admin/logout',
        '/healthz',
        '/metrics',
        '/readyz',
        '/v1/chat/completions',
        '/v1/documents',
        '/v1/documents/{docId}',
        '/v1/models',
        '/v1/models/{model}',
        '/v1/reviews',
        '/v1/reviews/{reviewId}',
        '/v1/reviews/{reviewId}/cancel',
        '/v1/reviews/{reviewId}/events',
        '/v1/reviews/{reviewId}/report',
        '/v1/reviews/{reviewId}/resume',
        '/v1/reviews/{reviewId}/schedule',
        '/v1/review-schedules',
        '/v1/turns/{turnId}',
        '/v1/users/{userId}/history',
        '/v1/users/{userId}/messages',
        '/v1/users/{userId}/profile',
      ]),
    );
    const post = doc.paths['/v1/users/{userId}/messages']!.post!;
    expect(post.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'path', name: 'userId' }),
        expect.objectContaining({ in: 'header', name: 'idempotency-key' }),
      ]),
    );
    const userId = post.parameters!.find((p) => p.name === 'userId')!.schema as { pattern: string };
    expect(userId.pattern).toBeTruthy();
    const body = post.requestBody!.content['application/json']!.schema as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(body.properties)).toEqual(['text', 'threadId', 'doubleTexting']);
    expect(body.required).toEqual(['text']);
    expect(post.responses['202']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/AcceptedTurn',
    });
    expect(post.responses['4XX']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    const history = doc.paths['/v1/users/{userId}/history']!.get!;
    expect(history.parameters!.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      'path:userId',
      'query:afterSeq',
      'query:limit',
    ]);
    const docs = doc.paths['/v1/documents']!.post!.requestBody!.content;
    expect(Object.keys(docs).sort()).toEqual(['application/json', 'multipart/form-data']);
    const chat = doc.paths['/v1/chat/completions']!.post!;
    expect(chat.requestBody!.content['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/ChatCompletionRequestInput',
    });
    expect(chat.responses['4XX']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/OpenAIError',
    });
    const report = doc.paths['/v1/reviews/{reviewId}/report']!.get!.responses['200']!.content!;
    expect(Object.keys(report).sort()).toEqual([
      'application/json',
      'text/csv',
      'text/html',
      'text/markdown',
    ]);
    expect(Object.keys(doc.paths['/v1/reviews']!.post!.requestBody!.content).sort()).toEqual([
      'application/json',
      'multipart/form-data',
    ]);
    for (const name of [
      'Error',
      'Turn',
      'History',
      'Profile',
      'ChatCompletion',
      'OpenAIError',
      'Review',
      'ReviewReport',
    ])
      expect(doc.components.schemas[name], name).toBeTruthy();
  });
});
