import { describe, expect, it } from 'vitest';
import { json, post, root, sim, sseEvents } from './test-support.ts';

interface TextCompletion {
  id: string;
  object: string;
  choices: { index: number; text: string; finish_reason: string | null }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface Embeddings {
  object: string;
  data: { index: number; object: string; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

describe('/v1/completions', () => {
  it('answers a list of prompts with one choice each, through the engine', async () => {
    const s = await sim();
    const body = await json<TextCompletion>(
      post(`${s.url}/completions`, { model: 'fleet-sim', prompt: ['alpha beta', 'gamma'], max_tokens: 50 }),
    );
    expect(body.object).toBe('text_completion');
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.choices).toEqual([
      expect.objectContaining({ index: 0, text: 'Echo [n=1]: alpha beta', finish_reason: 'stop' }),
      expect.objectContaining({ index: 1, text: 'Echo [n=1]: gamma', finish_reason: 'stop' }),
    ]);
    expect(body.usage.prompt_tokens).toBe(3);
    expect(s.engine.stats.generationTokens).toBe(body.usage.completion_tokens);
  });

  it('defaults max_tokens to 16 as OpenAI and vLLM do, and accepts token-id prompts', async () => {
    const s = await sim();
    const long = await json<TextCompletion>(post(`${s.url}/completions`, { prompt: 'word '.repeat(40) }));
    expect(long.choices[0]!.finish_reason).toBe('length');
    expect(long.usage.completion_tokens).toBe(16);
    const ids = await json<TextCompletion>(
      post(`${s.url}/completions`, { prompt: [[15339, 1917]], max_tokens: 30 }),
    );
    expect(ids.choices[0]!.text).toBe('Echo [n=1]: hello world');
    expect(ids.usage.prompt_tokens).toBe(2);
  });

  it('streams every prompt, interleaved by index, with usage at the end', async () => {
    const s = await sim();
    const res = await post(`${s.url}/completions`, {
      prompt: ['one', 'two'],
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as TextCompletion);
    const text = (i: number) =>
      chunks.flatMap((c) => c.choices.filter((ch) => ch.index === i).map((ch) => ch.text)).join('');
    expect(text(0)).toBe('Echo [n=1]: one');
    expect(text(1)).toBe('Echo [n=1]: two');
    expect(chunks.flatMap((c) => c.choices).filter((ch) => ch.finish_reason === 'stop')).toHaveLength(2);
    expect(chunks.at(-1)!.usage.completion_tokens).toBeGreaterThan(0);
  });
});

describe('/v1/embeddings', () => {
  const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

  it('returns deterministic unit vectors where texts sharing words are closer', async () => {
    const s = await sim();
    const input = [
      'customer due diligence for high risk clients',
      'due diligence for high risk customers',
      'the cafeteria menu for friday',
    ];
    const body = await json<Embeddings>(post(`${s.url}/embeddings`, { input }));
    expect(body.object).toBe('list');
    const v = body.data.map((d) => d.embedding as number[]);
    for (const x of v) {
      expect(x).toHaveLength(384);
      expect(Math.sqrt(cosine(x, x))).toBeCloseTo(1, 10);
    }
    expect(cosine(v[0]!, v[1]!)).toBeGreaterThan(0.5);
    expect(cosine(v[0]!, v[1]!)).toBeGreaterThan(cosine(v[0]!, v[2]!) + 0.3);
    expect(body.usage.prompt_tokens).toBeGreaterThan(10);
    const again = await json<Embeddings>(post(`${s.url}/embeddings`, { input: input[0] }));
    expect(again.data[0]!.embedding).toEqual(v[0]);
  });

  it('honours dimensions and base64 encoding (what the openai client asks for by default)', async () => {
    const s = await sim();
    const body = await json<Embeddings>(
      post(`${s.url}/embeddings`, { input: 'hello world', dimensions: 64, encoding_format: 'base64' }),
    );
    const buf = Buffer.from(body.data[0]!.embedding as string, 'base64');
    const floats = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
    expect(floats).toHaveLength(64);
    expect(Math.sqrt(floats.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 5);
  });
});

describe('discovery, health and metrics', () => {
  it('lists the model with its context length and reports healthy', async () => {
    const s = await sim({ model: 'llama-8b' });
    expect(await json(fetch(`${s.url}/models`))).toEqual({
      object: 'list',
      data: [expect.objectContaining({ id: 'llama-8b', object: 'model', max_model_len: 32768 })],
    });
    expect((await fetch(`${root(s)}/health`)).status).toBe(200);
  });

  it("exports vLLM's metric names and types", async () => {
    const s = await sim({ model: 'm' });
    await (
      await post(`${s.url}/chat/completions`, { messages: [{ role: 'user', content: 'hello' }] })
    ).json();
    const text = await (await fetch(`${root(s)}/metrics`)).text();
    const types: Record<string, string> = {
      'vllm:num_requests_running': 'gauge',
      'vllm:num_requests_waiting': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge',
      'vllm:prefix_cache_queries_total': 'counter',
      'vllm:prefix_cache_hits_total': 'counter',
      'vllm:num_preemptions_total': 'counter',
      'vllm:prompt_tokens_total': 'counter',
      'vllm:generation_tokens_total': 'counter',
      'vllm:request_success_total': 'counter',
      'vllm:time_to_first_token_seconds': 'histogram',
      'vllm:inter_token_latency_seconds': 'histogram',
      'vllm:e2e_request_latency_seconds': 'histogram',
      'vllm:request_queue_time_seconds': 'histogram',
      'vllm:iteration_tokens_total': 'histogram',
    };
    for (const [name, type] of Object.entries(types)) expect(text).toContain(`# TYPE ${name} ${type}`);
    expect(text).toContain('vllm:time_to_first_token_seconds_count{model_name="m"} 1');
    expect(text).toMatch(/vllm:inter_token_latency_seconds_count\{model_name="m"\} [1-9]/);
    expect(text).toMatch(/vllm:prefix_cache_queries_total\{model_name="m"\} [1-9]/);
    expect(text).toContain('vllm:request_success_total{model_name="m",finished_reason="stop"} 1');
  });

  it('reports the engine constants and its configured maximum generation throughput', async () => {
    const s = await sim({ engine: { timeScale: 0.5 } });
    const body = await json<{
      config: { maxNumSeqs: number; itlMs: number; timeScale: number };
      capacity: {
        maxGenerationTokensPerSecond: number;
        bestBatchSize: number;
        wallClockMaxGenerationTokensPerSecond: number;
      };
    }>(fetch(`${root(s)}/sim/engine`));
    expect(body.config).toMatchObject({ maxNumSeqs: 256, itlMs: 12, timeScale: 0.5 });
    expect(body.capacity.bestBatchSize).toBe(256);
    expect(body.capacity.maxGenerationTokensPerSecond).toBeCloseTo(256_000 / (12 * 6), 6);
    expect(body.capacity.wallClockMaxGenerationTokensPerSecond).toBeCloseTo(
      2 * body.capacity.maxGenerationTokensPerSecond,
      6,
    );
    const stats = await json<{ engine: { capacity: unknown; kvBlocksTotal: number } }>(
      fetch(`${root(s)}/sim/stats`),
    );
    expect(stats.engine.capacity).toEqual(body.capacity);
    expect(stats.engine.kvBlocksTotal).toBe(18750);
  });
});
