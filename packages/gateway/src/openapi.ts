import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { BULL_BOARD_PATH } from './bull-board.ts';

/** Where the OpenAPI document is served: the page at `/docs`, the JSON at `/docs/json`. */
export const DOCS_PATH = '/docs';

/** The security requirement of public routes (health, docs, the admin login form). */
export const PUBLIC_ROUTE = [] as const;

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * The OpenAPI 3.1 document of the gateway, built from the zod schemas the routes validate with
 * (`jsonSchemaTransform`), and Swagger UI, whose assets ship in the npm package (nothing is
 * fetched at run time). Register before the routes: the document collects routes as they are added.
 * Bull Board's internal routes are left out; they are an operator UI, not the API.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'agent-fleet gateway',
        version: '0.1.0',
        description:
          'Per-user AI agents: accept user messages as turns, read turns and history, manage profiles and ' +
          'documents, and an OpenAI-compatible chat endpoint. Every error is `{ error: { code, message, ' +
          'details? } }` except on the OpenAI-compatible routes, which answer OpenAI’s error shape.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A service API key (`fk_<id>_<secret>`, created with `fleet keys create`) or an end user’s JWT ' +
              '(`sub` = userId). Keys carry scopes (messages:write, turns:read, documents:write, reviews, ' +
              'admin); a user token may only act on its own user.',
          },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'turns', description: 'user messages, turns and history' },
        { name: 'profiles', description: 'the permissions and role context of each user’s agent' },
        {
          name: 'quotas',
          description: 'token usage, and the token budgets and fair-queue weights of tenants and users',
        },
        { name: 'documents', description: 'documents retrieval may cite' },
        {
          name: 'reviews',
          description:
            'batch document-review runs: a checklist over many documents, under one user’s permissions',
        },
        { name: 'openai', description: 'OpenAI-compatible chat completions over the user’s agent' },
        { name: 'keys', description: 'service API keys' },
        { name: 'operations', description: 'health, readiness, metrics, the fleet at a glance' },
        { name: 'admin', description: 'sign-in for the Bull Board UI at /admin/queues' },
      ],
    },
    transform: (input: TransformInput) =>
      input.url === BULL_BOARD_PATH || input.url.startsWith(`${BULL_BOARD_PATH}/`)
        ? { schema: { hide: true }, url: input.url }
        : jsonSchemaTransform(input),
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    uiConfig: { deepLinking: true, persistAuthorization: false },
    staticCSP: true,
  });
}
