import { ApiKeyStore } from '@agent-fleet/state';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGateway, userToken } from './support/gateway.ts';
import { streamAgentChat } from './support/openai-stream.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const JWT_SECRET = 'openai-test-secret-long-enough-for-hs256!';

const tokenOf = (sub: string) => userToken(JWT_SECRET, sub, '10m');

/** What an OpenAI SDK call threw, as the SDK parsed it. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('the call succeeded; an error was expected');
}

describe('the OpenAI-compatible endpoint, driven by the official openai client', () => {
  const { fleet } = useSimFleet({
    workers: 1,
    env: { AUTH_MODE: 'required', JWT_SECRET, LOG_LEVEL: 'warn' },
  });
  let keys: Record<'actor' | 'writer' | 'reader', string>;
  const client = (apiKey: string, opts: { maxRetries?: number } = {}) =>
    new OpenAI({ apiKey, baseURL: `${fleet.gatewayUrl}/v1`, maxRetries: opts.maxRetries ?? 0 });

  beforeAll(async () => {
    const store = new ApiKeyStore({ pool: fleet.pool });
    const create = async (name: string, scopes: ('messages:write' | 'turns:read')[], actAsUsers: boolean) =>
      (await store.create({ name, scopes, actAsUsers })).key;
    keys = {
      actor: await create('chat service', ['messages:write'], true),
      writer: await create('no users', ['messages:write'], false),
      reader: await create('reader', ['turns:read'], true),
    };
    await fleet.workersReady();
  });

  it('lists the agent models', async () => {
    const models = await client(keys.actor).models.list();
    expect(models.data.map((m) => [m.id, m.object, m.owned_by])).toEqual([
      ['fleet-agent', 'model', 'agent-fleet'],
    ]);
    expect((await client(keys.actor).models.retrieve('fleet-agent')).id).toBe('fleet-agent');
    const missing = await apiError(client(keys.actor).models.retrieve('gpt-4o'));
    expect([missing.status, missing.code, missing.param]).toEqual([404, 'model_not_found', 'model']);
  });

  it('answers a user token as that user’s agent, which remembers the conversation', async () => {
    const ann = client(await tokenOf('oa-ann'));
    const first = await ann.chat.completions.create({
      model: 'fleet-agent',
      messages: [
        { role: 'system', content: 'ignored: the agent has its own system prompt' },
        { role: 'user', content: 'What is our retention policy?' },
      ],
    });
    expect(first).toMatchObject({
      object: 'chat.completion',
      model: 'fleet-agent',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant' } }],
    });
    expect(first.id).toMatch(/^chatcmpl-t_[0-9a-f]{32}$/);
    // The simulator echoes how many messages the agent sent: system + this one.
    expect(first.choices[0]!.message.content).toBe('Echo [n=2]: What is our retention policy?');
    expect(first.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(first.usage!.completion_tokens).toBeGreaterThan(0);
    expect(first.usage!.total_tokens).toBe(first.usage!.prompt_tokens + first.usage!.completion_tokens);

    // Content parts work too; the turn is the user's second, so its prompt holds the first exchange.
    const second = await ann.chat.completions.create({
      model: 'fleet-agent',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'And for emails?' }] }],
    });
    expect(second.choices[0]!.message.content).toBe('Echo [n=4]: And for emails?');
    const turnId = second.id.replace('chatcmpl-', '');
    const turn = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`, {
      headers: { authorization: `Bearer ${await tokenOf('oa-ann')}` },
    });
    expect(await turn.json()).toMatchObject({ userId: 'oa-ann', seq: 2, status: 'completed' });
  });

  it('answers a service key for the user it names in `user`', async () => {
    const res = await client(keys.actor).chat.completions.create({
      model: 'fleet-agent',
      user: 'oa-bob',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(res.choices[0]!.message.content).toBe('Echo [n=2]: Hello');
    const history = await fetch(`${fleet.gatewayUrl}/v1/users/oa-bob/history`, {
      headers: { authorization: `Bearer ${await tokenOf('oa-bob')}` },
    });
    expect(((await history.json()) as { messages: { role: string }[] }).messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
    ]);
  });

  it('streams the answer as chat.completion.chunk events through the official SDK', async () => {
    const actor = client(keys.actor);
    const stream = await streamAgentChat(actor, 'oa-stream', 'stream this answer please');
    let text = '';
    let finish: string | null = null;
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toMatch(/stream this answer please$/);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('refuses what it cannot do with OpenAI-shaped errors the SDK understands', async () => {
    const actor = client(keys.actor);
    const ann = await tokenOf('oa-ann');
    const hi = [{ role: 'user' as const, content: 'hi' }];
    const cases: [
      string,
      () => Promise<unknown>,
      number,
      Partial<{ type: string; code: string; param: string }>,
    ][] = [
      [
        'an unknown model',
        () => actor.chat.completions.create({ model: 'gpt-4o', user: 'oa-c', messages: hi }),
        404,
        { code: 'model_not_found', param: 'model' },
      ],
      [
        'a key without user',
        () => actor.chat.completions.create({ model: 'fleet-agent', messages: hi }),
        400,
        { param: 'user' },
      ],
      [
        'a bad user',
        () => actor.chat.completions.create({ model: 'fleet-agent', user: 'a b', messages: hi }),
        400,
        { param: 'user' },
      ],
      [
        'a last message that is not the user’s',
        () =>
          actor.chat.completions.create({
            model: 'fleet-agent',
            user: 'oa-c',
            messages: [{ role: 'assistant', content: 'hello' }],
          }),
        400,
        { param: 'messages.0.role' },
      ],
      [
        'an image part',
        () =>
          actor.chat.completions.create({
            model: 'fleet-agent',
            user: 'oa-c',
            messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
          }),
        400,
        { param: 'messages.0.content' },
      ],
      [
        'no messages',
        () => actor.chat.completions.create({ model: 'fleet-agent', user: 'oa-c', messages: [] }),
        400,
        { type: 'invalid_request_error', param: 'messages' },
      ],
      [
        'a key that may not act for users',
        () =>
          client(keys.writer).chat.completions.create({ model: 'fleet-agent', user: 'oa-c', messages: hi }),
        403,
        { type: 'permission_error' },
      ],
      [
        'a key without messages:write',
        () =>
          client(keys.reader).chat.completions.create({ model: 'fleet-agent', user: 'oa-c', messages: hi }),
        403,
        { type: 'permission_error' },
      ],
      [
        'a user token for another user',
        () =>
          client(ann).chat.completions.create({
            model: 'fleet-agent',
            user: 'oa-bob',
            messages: hi,
          }),
        403,
        { param: 'user' },
      ],
      [
        'a made-up key',
        () => client('fk_nonsense').chat.completions.create({ model: 'fleet-agent', messages: hi }),
        401,
        { type: 'authentication_error', code: 'unauthorized' },
      ],
    ];
    for (const [name, call, status, fields] of cases) {
      const err = await apiError(call());
      expect(err.status, name).toBe(status);
      expect(err.error, name).toEqual({
        message: expect.any(String),
        type: expect.any(String),
        param: expect.toBeOneOf([expect.any(String), null]),
        code: expect.any(String),
      });
      expect(err, name).toMatchObject(fields);
    }
    // None of the refused requests became a turn.
    const turns = await fleet.pool.query("SELECT count(*)::int AS n FROM turns WHERE user_id = 'oa-c'");
    expect(turns.rows[0].n).toBe(0);
  });
});

describe('the OpenAI-compatible endpoint without a worker', () => {
  const { app, deps } = useGateway({
    env: { AUTH_MODE: 'required' },
    // Until core's schema declares them, these two are set on the parsed config directly.
    config: { AGENT_MODELS: ['fleet-agent', 'fleet-reviewer'], CHAT_COMPLETION_TIMEOUT_MS: 400 },
  });
  let url: string;
  let key: string;

  beforeAll(async () => {
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    key = (await new ApiKeyStore({ pool: deps.pool }).create({ name: 'a', scopes: ['admin'] })).key;
  });

  it('lists the models AGENT_MODELS names', async () => {
    const models = await new OpenAI({ apiKey: key, baseURL: `${url}/v1` }).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fleet-agent', 'fleet-reviewer']);
  });

  it('answers 504 when the turn does not finish in time, and the SDK does not ask again', async () => {
    // Default retries: the x-should-retry header is what stops the SDK from enqueueing the turn twice.
    const sdk = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 2 });
    const started = Date.now();
    const err = await apiError(
      sdk.chat.completions.create({
        model: 'fleet-reviewer',
        user: 'oa-slow',
        messages: [{ role: 'user', content: 'Anyone there?' }],
      }),
    );
    expect(err.status).toBe(504);
    expect(err.error).toMatchObject({ type: 'timeout_error', code: 'timeout' });
    expect(err.message).toMatch(/did not answer within 400 ms/);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    const turnId = err.headers?.get('x-fleet-turn-id');
    expect(turnId).toMatch(/^t_/);
    expect(Date.now() - started).toBeLessThan(3000);
    const counts = await Promise.all(
      deps.partitions.queues.map((q) => q.getJobCountByTypes('wait', 'prioritized')),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    // The turn goes on; its status is where the 504 said.
    const turn = await app.inject({
      method: 'GET',
      url: `/v1/turns/${turnId}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(turn.json()).toMatchObject({ userId: 'oa-slow', status: 'queued' });
  });
});
