import { ApiKeyStore } from '@agent-fleet/state';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_RATE_LIMITS, useGateway, userToken } from './support/gateway.ts';

const JWT_SECRET = 'fuzz-test-secret-long-enough-for-hs256!!!';
/** Runs per property: the whole file stays well under a minute on the 2-core machine. */
const RUNS = 300;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

interface FuzzRequest {
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

// ---- arbitraries ---------------------------------------------------------------------------------

/** Any bytes as a URL path segment or query: percent-encoded, so invalid UTF-8 gets through too. */
const rawBytes = (maxLength: number) =>
  fc
    .uint8Array({ maxLength })
    .map((bytes) =>
      [...bytes]
        .map((b) =>
          /[A-Za-z0-9._~-]/.test(String.fromCharCode(b))
            ? String.fromCharCode(b)
            : `%${b.toString(16).padStart(2, '0')}`,
        )
        .join(''),
    );
/** Strings of every kind: printable, any code point, lone surrogates, and long ones. */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '\u202e', 'é'.repeat(20_000), 'x'.repeat(40_000)),
);
const segment = fc.oneof(
  // Valid ids often enough that the routes get past their parameters.
  { weight: 3, arbitrary: fc.constantFrom('ann', 'bob', 'Ann.O+1@x-y_z', 'fleet-agent') },
  rawBytes(24),
  fc.constantFrom(
    'ann',
    'bob',
    'a:b',
    '..',
    '%00',
    '%ZZ',
    '%c0%af',
    'u'.repeat(129),
    `t_${'0'.repeat(32)}`,
    `r_${'0'.repeat(32)}`,
  ),
  anyString.filter((s) => s.length < 200).map((s) => encodeURIComponentSafe(s)),
);
const query = fc.oneof(
  fc.constant(''),
  rawBytes(40).map((q) => `?${q}`),
  fc
    .dictionary(fc.constantFrom('limit', 'afterSeq', 'tenant', 'x', 'limit[]', '__proto__'), anyString, {
      maxKeys: 3,
    })
    .map(
      (d) =>
        `?${Object.entries(d)
          .map(([k, v]) => `${k}=${encodeURIComponentSafe(v)}`)
          .join('&')}`,
    ),
);
/** Deep, odd JSON: nested values, prototype keys, big numbers, unicode keys. */
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 6, stringUnit: 'binary' }),
  fc.constantFrom(
    { __proto__: { text: 'x' } },
    { constructor: { prototype: { text: 1 } } },
    { text: { toString: 'x' } },
    { text: 1e308, threadId: -0 },
  ),
);
/** Bodies shaped like the real ones with a field bent out of shape, and free-form JSON. */
const messageBody = fc.record(
  {
    text: fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1, unit: 'grapheme' }) }, anyString, json),
    threadId: fc.oneof(anyString, json),
  },
  { requiredKeys: [] },
);
const profileBody = fc.record(
  {
    tenant: fc.oneof(anyString, json),
    groups: fc.oneof(fc.array(anyString, { maxLength: 300 }), json),
    roleContext: json,
  },
  { requiredKeys: [] },
);
const documentBody = fc.record(
  {
    docId: fc.oneof(anyString, json),
    title: fc.oneof(anyString, json),
    text: fc.oneof(anyString, json),
    tenant: fc.oneof(fc.constant('acme'), anyString),
    acl: fc.oneof(fc.array(anyString, { maxLength: 5 }), json),
    public: json,
  },
  { requiredKeys: [] },
);
const checklistBody = fc.oneof(
  anyString,
  json,
  fc.record(
    {
      items: fc.oneof(
        fc.array(
          fc.record(
            {
              id: fc.oneof(fc.constant('keep'), anyString),
              requirement: fc.oneof(anyString, json),
              policyRef: json,
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        json,
      ),
    },
    { requiredKeys: [] },
  ),
);
const reviewBody = fc.record(
  {
    userId: fc.oneof({ weight: 3, arbitrary: fc.constant('ann') }, anyString, json),
    documents: fc.oneof(fc.array(fc.oneof(fc.constant('policy-1'), anyString), { maxLength: 3 }), json),
    selector: fc.oneof(
      fc.record(
        { tenant: fc.oneof(fc.constant('acme'), anyString), docIdPrefix: anyString },
        { requiredKeys: [] },
      ),
      json,
    ),
    checklist: checklistBody,
    priority: fc.oneof(fc.constantFrom('low', 'normal', 'high', 'urgent'), json),
    name: fc.oneof(anyString, json),
    schedule: fc.oneof(
      fc.record(
        {
          cron: fc.oneof(fc.constantFrom('0 3 * * *', '*/5 * * * * *', 'every day', '61 * * * *'), anyString),
          tz: fc.oneof(fc.constantFrom('Europe/Berlin', 'Mars/Olympus'), anyString),
        },
        { requiredKeys: [] },
      ),
      json,
    ),
  },
  { requiredKeys: [] },
);
const chatMessage = fc.record(
  {
    role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'tool', 'USER', ''), json),
    content: fc.oneof(
      anyString,
      fc.array(
        fc.record({ type: fc.oneof(fc.constant('text'), anyString), text: fc.oneof(anyString, json) }),
      ),
      json,
    ),
  },
  { requiredKeys: [] },
);
/** One defect at most: such requests reach the checks past the schema, and some pass all of them. */
const nearlyValidChat = fc.record(
  {
    model: fc.oneof({ weight: 5, arbitrary: fc.constant('fleet-agent') }, anyString),
    messages: fc
      .tuple(fc.array(chatMessage, { maxLength: 2 }), fc.oneof(anyString, fc.constant('hello')))
      .map(([earlier, text]) => [...earlier, { role: 'user', content: text }]),
    stream: fc.constantFrom(false, true, null),
    user: fc.oneof({ weight: 3, arbitrary: fc.constant('ann') }, anyString),
  },
  { requiredKeys: ['model', 'messages'] },
);
const chatBody = fc.record(
  {
    model: fc.oneof(fc.constant('fleet-agent'), anyString, json),
    messages: fc.oneof(fc.array(chatMessage, { maxLength: 4 }), json),
    stream: fc.oneof(fc.boolean(), json),
    user: fc.oneof(fc.constantFrom('ann', 'a b', ''), anyString, json),
    temperature: json,
  },
  { requiredKeys: [] },
);
const budgetField = fc.oneof(fc.integer(), fc.double(), fc.constant(null), json);
const quotaBody = fc.record(
  {
    weight: fc.oneof(fc.double(), json),
    day: budgetField,
    month: budgetField,
    userDay: budgetField,
    userMonth: budgetField,
    softThreshold: fc.oneof(fc.double(), json),
  },
  { requiredKeys: [] },
);
const usageQuery = fc
  .dictionary(
    fc.constantFrom('tenant', 'userId', 'from', 'to', 'groupBy'),
    fc.oneof(
      fc.constantFrom(
        'acme',
        'ann',
        'day',
        'user',
        'model',
        'week',
        '2025-01-31',
        '2025-01-31T10:00:00Z',
        '99999',
      ),
      anyString,
    ),
    { maxKeys: 4 },
  )
  .map(
    (d) =>
      `?${Object.entries(d)
        .map(([k, v]) => `${k}=${encodeURIComponentSafe(v)}`)
        .join('&')}`,
  );
const body = (shaped: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 8, arbitrary: shaped.map((v) => ({ type: 'application/json', payload: JSON.stringify(v) })) },
    {
      weight: 2,
      arbitrary: json.map((v) => ({ type: 'application/json', payload: JSON.stringify(v) ?? '' })),
    },
    { weight: 1, arbitrary: anyString.map((s) => ({ type: 'application/json', payload: s })) },
    {
      weight: 2,
      arbitrary: fc.record({
        type: fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=zz',
          'multipart/form-data',
          'application/octet-stream',
          'application/json; charset=utf-16',
          'application/jsonx',
          '*/*',
          '',
        ),
        payload: anyString,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant({ type: 'application/json', payload: `{"text":"${'x'.repeat(1_100_000)}"}` }),
    },
    { weight: 1, arbitrary: fc.constant({ type: undefined, payload: undefined }) },
    // Deeper than any parser should have to recurse, as the whole body and under a known field.
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { type: 'application/json', payload: `${'['.repeat(100_000)}${']'.repeat(100_000)}` },
        { type: 'application/json', payload: `{"text":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}` },
      ),
    },
  );

function encodeURIComponentSafe(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate cannot be percent-encoded as UTF-8: replace the surrogates.
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
  }
}

// ---- the properties --------------------------------------------------------------------------------

describe('fuzzing every route: never a 5xx, always the one error shape, nothing enqueued by a refusal', () => {
  const { app, deps } = useGateway({
    env: {
      AUTH_MODE: 'required',
      JWT_SECRET,
      ...NO_RATE_LIMITS,
    },
    // No worker runs here: a chat completion that passes every check is accepted and then times out.
    config: { CHAT_COMPLETION_TIMEOUT_MS: 1 },
  });
  let adminKey: string;
  let annToken: string;
  let accepted = 0;
  /** `status code` → how often: proof the fuzz got past authentication and parsing into the routes. */
  const seen = new Map<string, number>();

  beforeAll(async () => {
    adminKey = (await new ApiKeyStore({ pool: deps.pool }).create({ name: 'fuzz', scopes: ['admin'] })).key;
    // So that review requests can pass every check (a run needs its user's profile).
    await deps.profiles.put('ann', { tenant: 'acme', groups: ['legal'] });
    annToken = await userToken(JWT_SECRET, 'ann');
  });

  const jobs = async () => {
    const queues = [...deps.partitions.queues, ...deps.reviewQueues.queues];
    const counts = await Promise.all(queues.map((q) => q.getJobCounts()));
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  /** The credential of a request: mostly ones that pass, so the fuzz reaches validation. */
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant('admin') },
    { weight: 3, arbitrary: fc.constant('ann') },
    { weight: 1, arbitrary: fc.constant('none') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 80 }) },
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom('idempotency-key', 'x-forwarded-proto', 'accept', 'origin', 'cookie', 'content-length-x'),
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 300,
    }),
    { maxKeys: 2 },
  );

  async function check(req: FuzzRequest, authChoice: string): Promise<void> {
    const headers: Record<string, string> = { ...req.headers };
    if (authChoice === 'admin') headers.authorization = `Bearer ${adminKey}`;
    else if (authChoice === 'ann') headers.authorization = `Bearer ${annToken}`;
    else if (authChoice !== 'none') headers.authorization = authChoice.replace(/[^\x20-\x7e]/g, '');
    const before = await jobs();
    const res = await app.inject({ method: req.method, url: req.url, headers, payload: req.payload });
    const added = (await jobs()) - before;
    const code =
      res.statusCode >= 400 ? ` ${(JSON.parse(res.body) as { error: { code?: string } }).error?.code}` : '';
    seen.set(`${res.statusCode}${code}`, (seen.get(`${res.statusCode}${code}`) ?? 0) + 1);
    const what = `${req.method} ${req.url.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
    const path = req.url.split('?')[0]!;
    const openAi = path === '/v1/chat/completions' || path === '/v1/models' || path.startsWith('/v1/models/');
    if (res.statusCode === 504 && path === '/v1/chat/completions') {
      // The one 5xx by design: accepted as a turn, which no worker here will run.
      expect(added, what).toBe(1);
      accepted++;
      return;
    }
    expect(res.statusCode, what).toBeLessThan(500);
    if (res.statusCode < 400) {
      expect(added, what).toBeLessThanOrEqual(1);
      accepted += added;
      return;
    }
    expect(added, `a refused request enqueued a job: ${what}`).toBe(0);
    expect(res.headers['content-type'], what).toMatch(/^application\/json/);
    const error = (JSON.parse(res.body) as { error: Record<string, unknown> }).error;
    expect(typeof error.code, what).toBe('string');
    expect(typeof error.message, what).toBe('string');
    const keys = Object.keys(error).sort();
    if (openAi && keys.includes('type')) {
      expect(keys, what).toEqual(['code', 'message', 'param', 'type']);
    } else {
      expect(['code,message', 'code,details,message'], what).toContain(keys.join(','));
      if (error.details !== undefined) expect(typeof error.details, what).toBe('object');
    }
  }

  const prop = (arb: fc.Arbitrary<FuzzRequest>) =>
    fc.assert(
      fc.asyncProperty(arb, auth, (req, a) => check(req, a)),
      { numRuns: RUNS },
    );
  const withBody = (
    method: Method,
    url: string,
    b: { type: string | undefined; payload: string | undefined },
    h: Record<string, string>,
  ): FuzzRequest => ({
    method,
    url,
    headers: { ...h, ...(b.type === undefined ? {} : { 'content-type': b.type }) },
    ...(b.payload === undefined ? {} : { payload: b.payload }),
  });

  it('POST /v1/users/:userId/messages', async () => {
    await prop(
      fc
        .tuple(segment, body(messageBody), extraHeaders)
        .map(([u, b, h]) => withBody('POST', `/v1/users/${u}/messages`, b, h)),
    );
  });

  it('GET /v1/turns/:turnId and GET /v1/users/:userId/history', async () => {
    await prop(
      fc.tuple(fc.boolean(), segment, query, extraHeaders).map(([turns, s, q, h]) => ({
        method: 'GET' as const,
        url: turns ? `/v1/turns/${s}${q}` : `/v1/users/${s}/history${q}`,
        headers: h,
      })),
    );
  });

  it('GET and PUT /v1/users/:userId/profile', async () => {
    await prop(
      fc
        .tuple(fc.constantFrom<Method>('GET', 'PUT'), segment, body(profileBody), extraHeaders)
        .map(([m, u, b, h]) =>
          m === 'GET'
            ? { method: m, url: `/v1/users/${u}/profile`, headers: h }
            : withBody(m, `/v1/users/${u}/profile`, b, h),
        ),
    );
  });

  it('POST /v1/documents and DELETE /v1/documents/:docId', async () => {
    await prop(
      fc
        .tuple(fc.boolean(), segment, query, body(documentBody), extraHeaders)
        .map(([post, d, q, b, h]) =>
          post
            ? withBody('POST', `/v1/documents${q}`, b, h)
            : { method: 'DELETE' as const, url: `/v1/documents/${d}${q}`, headers: h },
        ),
    );
  });

  it('POST /v1/chat/completions, GET /v1/models and /v1/models/:model', async () => {
    await prop(
      fc
        .tuple(fc.nat(3), segment, body(fc.oneof(chatBody, nearlyValidChat)), extraHeaders)
        .map(([k, m, b, h]) =>
          k === 0
            ? { method: 'GET' as const, url: '/v1/models', headers: h }
            : k === 1
              ? { method: 'GET' as const, url: `/v1/models/${m}`, headers: h }
              : withBody('POST', '/v1/chat/completions', b, h),
        ),
    );
  });

  it('POST /v1/reviews and the routes of a review and of its schedule', async () => {
    await prop(
      fc.tuple(fc.nat(8), segment, query, body(reviewBody), extraHeaders).map(([k, id, q, b, h]) =>
        k === 0
          ? withBody('POST', `/v1/reviews${q}`, b, h)
          : k === 1
            ? { method: 'GET' as const, url: `/v1/reviews${q}`, headers: h }
            : k === 2
              ? { method: 'GET' as const, url: `/v1/reviews/${id}${q}`, headers: h }
              : k === 3
                ? { method: 'GET' as const, url: `/v1/reviews/${id}/report${q}`, headers: h }
                : k <= 5
                  ? withBody('POST', `/v1/reviews/${id}/${k === 4 ? 'cancel' : 'resume'}${q}`, b, h)
                  : k <= 7
                    ? {
                        method: k === 6 ? ('GET' as const) : ('DELETE' as const),
                        url: `/v1/reviews/${id}/schedule${q}`,
                        headers: h,
                      }
                    : { method: 'GET' as const, url: `/v1/review-schedules${q}`, headers: h },
      ),
    );
  });

  it('the quota routes of tenants and users, and GET /v1/usage', async () => {
    await prop(
      fc
        .tuple(
          fc.constantFrom<Method>('GET', 'PUT', 'DELETE'),
          fc.boolean(),
          segment,
          body(quotaBody),
          usageQuery,
          fc.nat(4),
          extraHeaders,
        )
        .map(([m, tenant, s, b, q, k, h]) => {
          if (k === 0) return { method: 'GET' as const, url: `/v1/usage${q}`, headers: h };
          const url = tenant ? `/v1/tenants/${s}/quota` : `/v1/users/${s}/quota`;
          return m === 'PUT' ? withBody(m, url, b, h) : { method: m, url, headers: h };
        }),
    );
  });

  it('the admin sign-in, Bull Board, the docs and routes that do not exist', async () => {
    await prop(
      fc
        .tuple(
          fc.constantFrom<Method>('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
          fc.constantFrom(
            '/admin/login',
            '/admin/logout',
            '/admin/queues/api/queues',
            '/docs/json',
            '/v1/',
            '/v1/users/ann',
            '/',
          ),
          segment,
          query,
          body(fc.record({ key: fc.oneof(anyString, json) }, { requiredKeys: [] })),
          extraHeaders,
        )
        .map(([m, p, s, q, b, h]) => {
          const url = `${p}${p.endsWith('/') ? s : ''}${q}`;
          return m === 'GET' || m === 'DELETE' ? { method: m, url, headers: h } : withBody(m, url, b, h);
        }),
    );
  });

  it('every job in the queues is one an accepted request added', async () => {
    expect(await jobs()).toBe(accepted);
    // The fuzz reached every layer: parsing, authentication, the guards, validation and acceptance.
    const statuses = Object.fromEntries([...seen].sort());
    for (const status of [
      '202',
      '400 invalid_json',
      '400 invalid_request',
      '401 unauthorized',
      '403 forbidden',
    ])
      expect(statuses[status], `${status} in ${JSON.stringify(statuses)}`).toBeGreaterThan(0);
    for (const status of ['404 not_found', '413 payload_too_large', '415 unsupported_media_type'])
      expect(statuses[status], `${status} in ${JSON.stringify(statuses)}`).toBeGreaterThan(0);
  });
});
