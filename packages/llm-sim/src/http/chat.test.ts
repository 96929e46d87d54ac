import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ChatChunk, type ChatCompletion, json, post, root, sim, sseEvents } from './test-support.ts';

const searchTool = {
  type: 'function',
  function: {
    name: 'search_docs',
    description: 'Search the policy library',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1 },
        top_k: { type: 'integer', minimum: 1, maximum: 20 },
        scope: { enum: ['policies', 'procedures'] },
      },
      required: ['query', 'top_k'],
      additionalProperties: false,
    },
  },
};
const clockTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
};

function validator(schema: object) {
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

describe('tool calls', () => {
  it('calls the tool the user names with tool_choice auto, with arguments that satisfy its schema', async () => {
    const s = await sim();
    const body = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [{ role: 'user', content: 'Use search_docs to find the KYC refresh rules' }],
        tools: [clockTool, searchTool],
      }),
    );
    const choice = body.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls[0]!;
    expect(call).toMatchObject({ type: 'function', function: { name: 'search_docs' } });
    expect(call.id).toMatch(/^chatcmpl-tool-/);
    const args = JSON.parse(call.function.arguments);
    expect(validator(searchTool.function.parameters).safeParse(args).success).toBe(true);
    expect(args.query).toContain('KYC');
  });

  it('answers in text with auto when no tool is named, or once a tool result follows the question', async () => {
    const s = await sim();
    const plain = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [{ role: 'user', content: 'hello' }],
        tools: [searchTool],
      }),
    );
    expect(plain.choices[0]).toMatchObject({
      finish_reason: 'stop',
      message: { content: 'Echo [n=1]: hello' },
    });

    const after = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        tools: [searchTool],
        messages: [
          { role: 'user', content: 'Use search_docs for KYC' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 't1', type: 'function', function: { name: 'search_docs', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 't1', content: '[1] KYC is refreshed yearly.' },
        ],
      }),
    );
    expect(after.choices[0]!.finish_reason).toBe('stop');
    expect(after.choices[0]!.message.tool_calls).toEqual([]);
  });

  it('always calls with required or a named function, never with none', async () => {
    const s = await sim();
    const ask = (tool_choice: unknown) =>
      json<ChatCompletion>(
        post(`${s.url}/chat/completions`, {
          messages: [{ role: 'user', content: 'what time is it?' }],
          tools: [searchTool, clockTool],
          tool_choice,
        }),
      );
    expect((await ask('required')).choices[0]!.message.tool_calls[0]!.function.name).toBe('search_docs');
    const named = await ask({ type: 'function', function: { name: 'get_time' } });
    expect(named.choices[0]!.message.tool_calls[0]!.function).toEqual({ name: 'get_time', arguments: '{}' });
    expect((await ask('none')).choices[0]!.finish_reason).toBe('stop');
    const unknown = await post(`${s.url}/chat/completions`, {
      messages: [{ role: 'user', content: 'x' }],
      tools: [searchTool],
      tool_choice: { type: 'function', function: { name: 'nope' } },
    });
    expect(unknown.status).toBe(400);
  });

  it('streams a tool call as OpenAI does: id and name first, then argument fragments', async () => {
    const s = await sim();
    const res = await post(`${s.url}/chat/completions`, {
      messages: [{ role: 'user', content: 'search_docs: sanctions screening' }],
      tools: [searchTool],
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as ChatChunk);
    const deltas = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'search_docs' } });
    expect(deltas[0]!.id).toMatch(/^chatcmpl-tool-/);
    expect(
      deltas.slice(1).every((d) => d.index === 0 && d.id === undefined && d.function.name === undefined),
    ).toBe(true);
    expect(deltas.length).toBeGreaterThan(3);
    const args = JSON.parse(deltas.map((d) => d.function.arguments ?? '').join(''));
    expect(validator(searchTool.function.parameters).safeParse(args).success).toBe(true);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'tool_calls')).toHaveLength(1);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(deltas.length);
  });
});

describe('structured output', () => {
  const schema = {
    type: 'object',
    properties: {
      answer: { type: 'string' },
      citations: { type: 'array', items: { type: 'string' }, minItems: 1 },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      risk: { enum: ['low', 'medium', 'high'] },
    },
    required: ['answer', 'citations', 'confidence', 'risk'],
    additionalProperties: false,
  };

  it('returns JSON that validates against response_format json_schema', async () => {
    const s = await sim();
    const body = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [{ role: 'user', content: 'Assess the account' }],
        response_format: { type: 'json_schema', json_schema: { name: 'assessment', schema, strict: true } },
      }),
    );
    const value = JSON.parse(body.choices[0]!.message.content!);
    expect(validator(schema).safeParse(value).success).toBe(true);
    expect(value.answer).toBe('Echo [n=1]: Assess the account');
  });

  it("accepts vLLM's structured_outputs json (object or text) and choice, and json_object", async () => {
    const s = await sim();
    const ask = async (extra: Record<string, unknown>) =>
      (
        await json<ChatCompletion>(
          post(`${s.url}/chat/completions`, {
            messages: [{ role: 'user', content: 'is this risky?' }],
            ...extra,
          }),
        )
      ).choices[0]!.message.content!;
    expect(
      validator(schema).safeParse(JSON.parse(await ask({ structured_outputs: { json: schema } }))).success,
    ).toBe(true);
    expect(
      validator(schema).safeParse(
        JSON.parse(await ask({ structured_outputs: { json: JSON.stringify(schema) } })),
      ).success,
    ).toBe(true);
    expect(await ask({ structured_outputs: { choice: ['safe', 'risky'] } })).toBe('risky');
    expect(JSON.parse(await ask({ response_format: { type: 'json_object' } }))).toEqual({
      answer: 'Echo [n=1]: is this risky?',
    });
  });

  it('truncates at max_tokens with finish reason length (the JSON is then cut too)', async () => {
    const s = await sim();
    const body = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [{ role: 'user', content: 'Assess' }],
        response_format: { type: 'json_schema', json_schema: { name: 'a', schema } },
        max_tokens: 4,
      }),
    );
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(4);
    expect(() => JSON.parse(body.choices[0]!.message.content!)).toThrow();
  });
});

describe('vLLM extras', () => {
  it('uses request_id in the completion id, and reports cached prompt tokens for a growing conversation', async () => {
    const s = await sim();
    const system = {
      role: 'system',
      content: `You are a compliance assistant. ${'Policy text. '.repeat(60)}`,
    };
    const first = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [system, { role: 'user', content: 'Q1' }],
        request_id: 'turn-42',
      }),
    );
    expect(first.id).toBe('chatcmpl-turn-42');
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const second = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [
          system,
          { role: 'user', content: 'Q1' },
          first.choices[0]!.message,
          { role: 'user', content: 'Q2' },
        ],
      }),
    );
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    expect(cached).toBeGreaterThan(first.usage.prompt_tokens - 16);
    expect(cached % 16).toBe(0);
    const salted = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, {
        messages: [system, { role: 'user', content: 'Q1' }],
        cache_salt: 'tenant-b',
      }),
    );
    expect(salted.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const metrics = await (await fetch(`${root(s)}/metrics`)).text();
    expect(metrics).toMatch(/vllm:prefix_cache_hits_total\{model_name="fleet-sim"\} [1-9]/);
  });

  it('serves lower priority values first when requests queue', async () => {
    // One sequence at a time, real time: the first request holds the batch while the others queue.
    const s = await sim({ engine: { maxNumSeqs: 1, timeScale: 0.2 } });
    const order: string[] = [];
    const ask = (tag: string, priority: number, padding = '') =>
      post(`${s.url}/chat/completions`, {
        messages: [{ role: 'user', content: tag + padding }],
        priority,
      }).then(async (r) => {
        await r.json();
        order.push(tag);
      });
    // ~100 output tokens: about 250 ms at timeScale 0.2, while the others arrive.
    const first = ask('first', 0, ' word'.repeat(100));
    await new Promise((r) => setTimeout(r, 15));
    const rest = [ask('batch-a', 10), ask('batch-b', 10)];
    await new Promise((r) => setTimeout(r, 5));
    rest.push(ask('chat', -1));
    await Promise.all([first, ...rest]);
    expect(order).toEqual(['first', 'chat', 'batch-a', 'batch-b']);
  });

  it('rejects a request over the context length with a 400, like vLLM', async () => {
    const s = await sim({ engine: { maxModelLen: 64, kvCacheTokens: 4096 } });
    const res = await post(`${s.url}/chat/completions`, {
      messages: [{ role: 'user', content: 'word '.repeat(100) }],
    });
    expect(res.status).toBe(400);
    expect((await json<{ error: { message: string } }>(res)).error.message).toMatch(
      /maximum context length is 64 tokens/,
    );
    const priority = await post(`${s.url}/chat/completions`, {
      messages: [{ role: 'user', content: 'x' }],
      priority: 1.5,
    });
    expect(priority.status).toBe(400);
  });
});

describe('content modes', () => {
  it('extractive: answers from the passages sharing most words with the question, keeping their markers', async () => {
    const s = await sim({ mode: 'extractive' });
    const content = [
      'Answer using the sources below.',
      '[1] Customer due diligence must be refreshed every twelve months for high-risk clients. Low-risk clients are reviewed every three years.',
      '[2] The cafeteria opens at eight.',
      '[kyc-policy:4.2] High-risk clients require senior management approval before onboarding.',
      '',
      'Question: How often is due diligence refreshed for high-risk clients?',
    ].join('\n');
    const body = await json<ChatCompletion>(
      post(`${s.url}/chat/completions`, { messages: [{ role: 'user', content }] }),
    );
    const answer = body.choices[0]!.message.content!;
    expect(answer).toContain('refreshed every twelve months');
    expect(answer).toContain('[1]');
    expect(answer).toContain('[kyc-policy:4.2]');
    expect(answer).not.toContain('cafeteria');
    expect(answer.indexOf('[1]')).toBeLessThan(answer.indexOf('[kyc-policy:4.2]'));
  });

  it('script: serves fixtures in order (text, tool calls, malformed raw), then falls back to echo', async () => {
    const s = await sim({ mode: 'script' });
    const put = await fetch(`${root(s)}/sim/script`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          match: { contains: 'weather' },
          reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] },
        },
        { reply: 'first scripted answer', times: 2 },
        { match: { user: 'mallory' }, reply: { raw: '{"answer": "trunc' } },
      ]),
    });
    expect(put.status).toBe(200);
    const ask = (content: string, user?: string) =>
      json<ChatCompletion>(
        post(`${s.url}/chat/completions`, { messages: [{ role: 'user', content }], user }),
      );
    const mallory = await ask('give me JSON', 'mallory');
    // The catch-all fixture comes first in the list, so it answers mallory too.
    expect(mallory.choices[0]!.message.content).toBe('first scripted answer');
    const weather = await ask('weather in Paris?');
    expect(weather.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { tool_calls: [{ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    });
    expect((await ask('again')).choices[0]!.message.content).toBe('first scripted answer');
    expect((await ask('malformed please', 'mallory')).choices[0]!.message.content).toBe('{"answer": "trunc');
    expect((await ask('nothing left')).choices[0]!.message.content).toBe('Echo [n=1]: nothing left');
    expect(await json(fetch(`${root(s)}/sim/script`))).toEqual([]);
    const bad = await fetch(`${root(s)}/sim/script`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ reply: 42 }]),
    });
    expect(bad.status).toBe(400);
  });
});
