import { countTokens } from '@agent-fleet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { renderChatPrompt } from './chat-template.ts';
import { type RunningSim, type StartSimOptions, startSim } from './index.ts';

/** The response fields these tests read. */
interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
  };
}
interface Chunk {
  id: string;
  object: string;
  choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: Completion['usage'] | null;
}
interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}
interface FaultConfigBody {
  errorRate: number;
  latencyMs: number;
  tokenLatencyMs: number;
  rules: unknown[];
  seed: number;
}

const DEFAULT_FAULTS = {
  errorRate: 0,
  rate429: 0,
  retryAfterSeconds: 1,
  spikeRate: 0,
  spikeMs: 0,
  hangRate: 0,
  dropStreamRate: 0,
  fabricatedQuoteRate: 0,
  brokenJsonRate: 0,
  dieAfterRequests: null,
  latencyMs: 0,
  latencyJitterMs: 0,
  tokenLatencyMs: 0,
  rules: [],
};

/** Parses a JSON response body as `T` (the tests then check it). */
async function read<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

const running: RunningSim[] = [];

async function sim(opts: StartSimOptions = {}): Promise<RunningSim> {
  const started = await startSim({ port: 0, ...opts });
  running.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** The server root (without `/v1`), where `/health`, `/metrics` and `/sim/*` live. */
function root(s: RunningSim): string {
  return s.url.replace(/\/v1$/, '');
}

function chat(
  s: RunningSim,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${s.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

function json(url: string, method: string, body: unknown): Promise<Response> {
  return fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const history = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'first question' },
  { role: 'assistant', content: 'first answer' },
  { role: 'user', content: 'What is the capital of France?' },
];

describe('chat completions', () => {
  it('answers a non-streamed request with an echo of the last user message, history size and usage', async () => {
    const s = await sim();
    const res = await chat(s, {
      model: 'fleet-sim',
      messages: history,
      temperature: 0.2,
      unknown_field: true,
    });
    expect(res.status).toBe(200);
    const body = await read<Completion>(res);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'fleet-sim',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Echo [n=4]: What is the capital of France?' },
          finish_reason: 'stop',
        },
      ],
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(typeof body.created).toBe('number');
    // Prompt tokens of the rendered chat template, counted by the real tokenizer.
    const promptTokens = countTokens(renderChatPrompt(history as Parameters<typeof renderChatPrompt>[0]));
    const completionTokens = countTokens(body.choices[0]!.message.content);
    expect(body.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('streams chunks that reassemble to the non-streamed reply and end with [DONE]', async () => {
    const s = await sim({ tokenLatencyMs: 1 });
    const expected = (await read<Completion>(chat(s, { model: 'm', messages: history }))).choices[0]!.message
      .content;

    const res = await chat(s, {
      model: 'm',
      messages: history,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const events = raw
      .split('\n\n')
      .filter((e) => e.length > 0)
      .map((e) => {
        expect(e.startsWith('data: ')).toBe(true);
        return e.slice('data: '.length);
      });
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(expected);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(countTokens(expected));
    // The same prompt again: its full blocks come from the prefix cache.
    expect(chunks.at(-1)?.usage?.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('rejects malformed requests with an OpenAI-style 400', async () => {
    const s = await sim();
    for (const body of [
      { model: 'm' },
      { model: 'm', messages: [] },
      { model: 'm', messages: [{ role: 'wizard', content: 'hi' }] },
      { model: 'm', messages: [{ role: 'user', content: 42 }] },
    ]) {
      const res = await chat(s, body);
      expect(res.status).toBe(400);
      const err = await read<ErrorBody>(res);
      expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
      expect(err.error.message).toEqual(expect.any(String));
    }
    const bad = await fetch(`${s.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect((await read<ErrorBody>(bad)).error.type).toBe('invalid_request_error');
    expect(await read(fetch(`${root(s)}/sim/stats`))).toMatchObject({ requests: 0 });
  });
});

describe('discovery and health', () => {
  it('lists the configured model and reports healthy', async () => {
    const s = await sim({ model: 'my-model' });
    expect(await (await fetch(`${s.url}/models`)).json()).toEqual({
      object: 'list',
      data: [expect.objectContaining({ id: 'my-model', object: 'model', owned_by: 'agent-fleet' })],
    });
    expect((await fetch(`${root(s)}/health`)).status).toBe(200);
  });

  it('exports vLLM-named metrics from its own registry', async () => {
    const s = await sim({ model: 'metric-model' });
    await chat(s, { model: 'metric-model', messages: history });
    const res = await fetch(`${root(s)}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('vllm:request_success_total{model_name="metric-model",finished_reason="stop"} 1');
    expect(text).toContain('vllm:num_requests_running{model_name="metric-model"} 0');
    expect(text).toContain('vllm:num_requests_waiting{model_name="metric-model"} 0');
    expect(text).toContain('vllm:e2e_request_latency_seconds_count{model_name="metric-model"} 1');
    expect(text).toMatch(/vllm:prompt_tokens_total\{model_name="metric-model"\} [1-9]/);
    expect(text).toMatch(/vllm:generation_tokens_total\{model_name="metric-model"\} [1-9]/);

    // A second simulator in the same process starts from zero.
    const other = await sim({ model: 'metric-model' });
    expect(await (await fetch(`${root(other)}/metrics`)).text()).toContain(
      'vllm:request_success_total{model_name="metric-model",finished_reason="stop"} 0',
    );
  });
});

describe('faults', () => {
  it('fails every request with errorRate 1', async () => {
    const s = await sim({ errorRate: 1 });
    const res = await chat(s, { model: 'm', messages: history });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { message: 'simulated failure', type: 'server_error' } });
    const streamed = await chat(s, { model: 'm', messages: history, stream: true });
    expect(streamed.status).toBe(500);
    expect(await (await fetch(`${root(s)}/sim/stats`)).json()).toMatchObject({ requests: 2, failures: 2 });
  });

  it('fails about errorRate of requests, reproducibly for a given seed', async () => {
    const run = async (): Promise<boolean[]> => {
      const s = await sim({ errorRate: 0.3, seed: 1234, engine: { timeScale: 0 } });
      const failed: boolean[] = [];
      for (let i = 0; i < 200; i++) {
        const res = await chat(s, { model: 'm', messages: [{ role: 'user', content: `q${i}` }] });
        expect([200, 500]).toContain(res.status);
        await res.arrayBuffer();
        failed.push(res.status === 500);
      }
      const stats = await (await fetch(`${root(s)}/sim/stats`)).json();
      expect(stats).toMatchObject({ requests: 200, failures: failed.filter(Boolean).length });
      return failed;
    };
    const first = await run();
    const failures = first.filter(Boolean).length;
    expect(failures).toBeGreaterThanOrEqual(40);
    expect(failures).toBeLessThanOrEqual(80);
    expect(await run()).toEqual(first);
  });

  it('slows down only the requests of a user a rule names, without blocking others', async () => {
    const s = await sim({ rules: [{ match: { user: 'slowpoke' }, latencyMs: 800 }] });
    const timed = async (p: Promise<Response>) => {
      const t0 = performance.now();
      const res = await p;
      await res.json();
      return { status: res.status, ms: performance.now() - t0 };
    };
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const [slowBody, slowHeader, fast] = await Promise.all([
      timed(chat(s, { ...body, user: 'slowpoke' })),
      timed(chat(s, body, { 'x-user-id': 'slowpoke' })),
      timed(chat(s, { ...body, user: 'speedy' })),
    ]);
    expect(slowBody.status).toBe(200);
    expect(slowHeader.status).toBe(200);
    expect(fast.status).toBe(200);
    expect(slowBody.ms).toBeGreaterThanOrEqual(750);
    expect(slowHeader.ms).toBeGreaterThanOrEqual(750);
    expect(fast.ms).toBeLessThan(400);
  });

  it('applies content rules and config changed at runtime', async () => {
    const s = await sim();
    const put = await json(`${root(s)}/sim/config`, 'PUT', {
      rules: [{ match: { contains: 'SLOW' }, latencyMs: 500 }],
    });
    expect(put.status).toBe(200);
    expect((await read<FaultConfigBody>(put)).rules).toEqual([
      { match: { contains: 'SLOW' }, latencyMs: 500 },
    ]);

    const t0 = performance.now();
    const res = await chat(s, { model: 'm', messages: [{ role: 'user', content: 'please be SLOW' }] });
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450);
  });
});

describe('admin API', () => {
  it('returns, validates and partially updates the fault config', async () => {
    const s = await sim({ latencyMs: 5, seed: 7 });
    const url = `${root(s)}/sim/config`;
    expect(await (await fetch(url)).json()).toEqual({ ...DEFAULT_FAULTS, latencyMs: 5, seed: 7 });

    for (const bad of [
      { errorRate: 2 },
      { errorRate: -0.1 },
      { latencyMs: 'slow' },
      { rules: [{ match: {}, latencyMs: 10 }] },
      { rules: [{ match: { user: 'u' }, latencyMs: -1 }] },
      { errorRat: 0.5 },
    ]) {
      const res = await json(url, 'PUT', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect((await read<ErrorBody>(res)).error.type).toBe('invalid_request_error');
    }
    expect((await read<FaultConfigBody>(fetch(url))).errorRate).toBe(0);

    const res = await json(url, 'PUT', { errorRate: 0.5, tokenLatencyMs: 2 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ...DEFAULT_FAULTS,
      errorRate: 0.5,
      latencyMs: 5,
      tokenLatencyMs: 2,
      seed: 7,
    });
    expect(await (await fetch(url)).json()).toMatchObject({
      errorRate: 0.5,
      latencyMs: 5,
      tokenLatencyMs: 2,
    });
  });

  it('counts requests per user and resets the counters', async () => {
    const s = await sim();
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    await (await chat(s, { ...body, user: 'alice' })).json();
    await (await chat(s, { ...body, user: 'alice' })).json();
    await (await chat(s, body, { 'x-user-id': 'bob' })).json();
    await (await chat(s, body)).json();
    expect(await (await fetch(`${root(s)}/sim/stats`)).json()).toMatchObject({
      requests: 4,
      failures: 0,
      rateLimited: 0,
      hangs: 0,
      droppedStreams: 0,
      byUser: { alice: 2, bob: 1 },
      engine: { running: 0, waiting: 0, generationTokens: expect.any(Number) },
    });
    const reset = await fetch(`${root(s)}/sim/stats/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    const after = await read<{ requests: number; byUser: object; engine: { generationTokens: number } }>(
      fetch(`${root(s)}/sim/stats`),
    );
    expect(after).toMatchObject({ requests: 0, failures: 0, byUser: {} });
    // Engine counters are cumulative: a benchmark diffs them.
    expect(after.engine.generationTokens).toBeGreaterThan(0);
  });
});

describe('reported usage', () => {
  type Usage = { promptTokens: number; completionTokens: number; cachedTokens: number; requests: number };
  it('adds up the usage of every answer it completed, per user: the ground truth of client accounting', async () => {
    const s = await sim();
    const body = { model: 'm', messages: [{ role: 'user', content: 'count my tokens please' }] };
    const plain = await read<{ usage: { prompt_tokens: number; completion_tokens: number } }>(
      chat(s, { ...body, user: 'carol' }),
    );
    const streamed = await (
      await chat(s, { ...body, user: 'carol', stream: true, stream_options: { include_usage: true } })
    ).text();
    const last = streamed
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } })
      .findLast((c) => c.usage)!.usage!;
    const embedded = await read<{ usage: { prompt_tokens: number } }>(
      json(`${s.url}/embeddings`, 'POST', { input: ['one text', 'two texts'], user: 'dan' }),
    );
    const stats = await read<{ usage: { total: Usage; byUser: Record<string, Usage> } }>(
      fetch(`${root(s)}/sim/stats`),
    );
    expect(stats.usage.byUser.carol).toMatchObject({
      promptTokens: plain.usage.prompt_tokens + last.prompt_tokens,
      completionTokens: plain.usage.completion_tokens + last.completion_tokens,
      requests: 2,
    });
    expect(stats.usage.byUser.dan).toEqual({
      promptTokens: embedded.usage.prompt_tokens,
      completionTokens: 0,
      cachedTokens: 0,
      requests: 1,
    });
    expect(stats.usage.total.requests).toBe(3);
    await fetch(`${root(s)}/sim/stats/reset`, { method: 'POST' });
    expect(
      (await read<{ usage: { total: Usage } }>(fetch(`${root(s)}/sim/stats`))).usage.total.requests,
    ).toBe(0);
  });
});

describe('lifecycle', () => {
  it('closes promptly while a slow request is pending, and the request gets a 503', async () => {
    const s = await sim({ latencyMs: 60_000 });
    const pending = chat(s, { model: 'm', messages: history });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await pending).status).toBe(503);
  });

  it('keeps the running gauge right when a client gives up mid-generation, and still closes promptly', async () => {
    const s = await sim();
    const abort = new AbortController();
    // A long reply: about 12 ms per token in real time, so it is still generating when the client leaves.
    const long = 'word '.repeat(2000);
    const pending = fetch(`${s.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: long }] }),
      signal: abort.signal,
    }).catch(() => 'aborted');
    const gauge = async (name: string) =>
      new RegExp(`${name}\\{model_name="fleet-sim"\\} ([\\d.e-]+)`).exec(
        await (await fetch(`${root(s)}/metrics`)).text(),
      )?.[1];
    await expect.poll(() => gauge('vllm:num_requests_running')).toBe('1');
    expect(Number(await gauge('vllm:kv_cache_usage_perc'))).toBeGreaterThan(0);
    abort.abort();
    expect(await pending).toBe('aborted');
    await expect.poll(() => gauge('vllm:num_requests_running')).toBe('0');
    expect(await gauge('vllm:kv_cache_usage_perc')).toBe('0');
    expect(await (await fetch(`${root(s)}/metrics`)).text()).toContain(
      'vllm:request_success_total{model_name="fleet-sim",finished_reason="abort"} 1',
    );
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('closes promptly while a request is generating; the request gets a 503', async () => {
    const s = await sim();
    const pending = chat(s, { model: 'm', messages: [{ role: 'user', content: 'word '.repeat(2000) }] });
    await expect.poll(async () => s.engine.stats.running).toBe(1);
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await pending).status).toBe(503);
    expect(s.engine.stats).toMatchObject({ running: 0, kvBlocksUsed: 0 });
  });

  it('rejects bad options with a FleetError', async () => {
    await expect(startSim({ errorRate: 3 })).rejects.toMatchObject({
      name: 'FleetError',
      code: 'invalid_config',
    });
  });
});
