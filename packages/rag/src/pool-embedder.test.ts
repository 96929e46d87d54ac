import { FleetError, loadConfig } from '@agent-fleet/core';
import { LlmPool } from '@agent-fleet/llm';
import { embedText, type RunningSim, startSim } from '@agent-fleet/llm-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbedder } from './from-config.ts';
import { PoolEmbedder } from './pool-embedder.ts';

/** Embeddings through the LLM pool against simulator servers over real HTTP. */
const sims: RunningSim[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(opts: Parameters<typeof startSim>[0] = {}): Promise<RunningSim> {
  const s = await startSim({ ...opts, engine: { timeScale: 0 } });
  sims.push(s);
  return s;
}
function llmPool(urls: string[], opts: Partial<ConstructorParameters<typeof LlmPool>[0]> = {}): LlmPool {
  const p = new LlmPool({
    servers: urls,
    apiKey: 'k',
    model: 'chat-model',
    healthIntervalMs: 0,
    backoffBaseMs: 5,
    ...opts,
  });
  closers.push(() => p.close());
  return p;
}
async function requestsSeen(s: RunningSim): Promise<number> {
  const stats = await (await fetch(`${s.url.replace(/\/v1$/, '')}/sim/stats`)).json();
  return (stats as { requests: number }).requests;
}
interface Sent {
  url: string;
  headers: Headers;
  body: Record<string, unknown>;
}
/** The real fetch, keeping what was sent. */
function recordingFetch(sent: Sent[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({
      url: String(input),
      headers: new Headers(init?.headers),
      body: JSON.parse(String(init?.body ?? '{}')),
    });
    return fetch(input, init);
  }) as typeof fetch;
}

describe('PoolEmbedder', () => {
  it('posts the OpenAI request shape and returns the vectors in input order', async () => {
    const s = await sim();
    const sent: Sent[] = [];
    const e = new PoolEmbedder({
      pool: llmPool([s.url], { fetch: recordingFetch(sent) }),
      model: 'bge',
      dimensions: 8,
      sendDimensions: true,
    });
    const texts = ['customer due diligence', 'sanctions screening', 'gifts and hospitality'];
    expect(await e.embed(texts)).toEqual(texts.map((t) => embedTextOf(t, 8)));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe(`${s.url}/embeddings`);
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer k');
    expect(sent[0]!.headers.get('x-user-id')).toBe('embeddings');
    expect(sent[0]!.body).toMatchObject({ model: 'bge', input: texts, dimensions: 8 });
    expect(await e.embed([])).toEqual([]);
  });

  it('coalesces concurrent callers into one request, and splits what is over maxInputs', async () => {
    const s = await sim();
    const e = new PoolEmbedder({
      pool: llmPool([s.url]),
      model: 'bge',
      dimensions: 384,
      batch: { maxInputs: 4, maxWaitMs: 10 },
    });
    let charged = 0;
    const onUsage = (u: { model: string; promptTokens: number }) => {
      expect(u.model).toBe('bge');
      charged += u.promptTokens;
    };
    const out = await Promise.all(['one', 'two', 'three'].map((t) => e.embed([t], { onUsage })));
    expect(out).toEqual([[embedTextOf('one', 384)], [embedTextOf('two', 384)], [embedTextOf('three', 384)]]);
    expect(await requestsSeen(s)).toBe(1);
    const many = Array.from({ length: 10 }, (_, i) => `the text numbered ${i}`);
    expect(await e.embed(many, { onUsage })).toEqual(many.map((t) => embedTextOf(t, 384)));
    expect(await requestsSeen(s)).toBe(1 + 3);
    // What the callers were told adds up to what the server reported for the four requests.
    const stats = (await (await fetch(`${s.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
      usage: { total: { promptTokens: number } };
    };
    expect(charged).toBe(stats.usage.total.promptTokens);
  });

  it('fails with FleetErrors that say whether a retry can help', async () => {
    const limited = await sim({ rate429: 1 });
    const e429 = new PoolEmbedder({ pool: llmPool([limited.url]), model: 'bge', dimensions: 384 });
    await expect(e429.embed(['x'])).rejects.toMatchObject({
      code: 'upstream_error',
      isRetryable: true,
      details: { status: 429 },
    });
    expect(await requestsSeen(limited)).toBe(3); // the pool's attempts
    const ok = await sim();
    const tooWide = new PoolEmbedder({
      pool: llmPool([ok.url]),
      model: 'bge',
      dimensions: 9000,
      sendDimensions: true,
    });
    await expect(tooWide.embed(['x'])).rejects.toMatchObject({ code: 'upstream_error', isRetryable: false });
    const wrongSize = new PoolEmbedder({ pool: llmPool([ok.url]), model: 'bge', dimensions: 4 });
    const err = await wrongSize.embed(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect(err).toMatchObject({ code: 'upstream_error', isRetryable: false });
    expect((err as Error).message).toMatch(/384 dimensions .* expected 4/);
    const down = new PoolEmbedder({ pool: llmPool(['http://127.0.0.1:1/v1']), model: 'bge', dimensions: 4 });
    await expect(down.embed(['x'])).rejects.toMatchObject({ code: 'unavailable', isRetryable: true });
  });
});

describe('createEmbedder', () => {
  const config = (env: Record<string, string>) => loadConfig(env);

  it('shares the LLM pool when EMBEDDINGS_BASE_URL is unset or names the same servers', async () => {
    const chat = await sim();
    const llm = llmPool([chat.url]);
    const envs: Record<string, string>[] = [{}, { EMBEDDINGS_BASE_URL: `${chat.url}/` }];
    for (const env of envs) {
      const made = createEmbedder(config({ LLM_BASE_URLS: chat.url, ...env }), { llm });
      expect(made.pool).toBe(llm);
      expect((await made.embedder.embed(['hello']))[0]).toHaveLength(384);
      made.close();
    }
    expect(await requestsSeen(chat)).toBe(2);
    expect(
      (await llm.chat({ userId: 'u', messages: [{ role: 'user', content: 'still open' }] })).content,
    ).toBe('Echo [n=1]: still open');
  });

  it('gives other embeddings servers a pool of their own, over all of them', async () => {
    const chat = await sim();
    const embeddings = [await sim(), await sim()];
    const llm = llmPool([chat.url]);
    const made = createEmbedder(
      config({ LLM_BASE_URLS: chat.url, EMBEDDINGS_BASE_URL: embeddings.map((s) => s.url).join(',') }),
      { llm },
    );
    closers.push(() => made.close());
    expect(made.pool).not.toBe(llm);
    expect(made.pool.servers).toEqual(embeddings.map((s) => s.url));
    await Promise.all(Array.from({ length: 6 }, (_, i) => made.embedder.embed([`text ${i}`])));
    expect(await requestsSeen(chat)).toBe(0);
    expect((await requestsSeen(embeddings[0]!)) + (await requestsSeen(embeddings[1]!))).toBeGreaterThan(0);
  });
});

function embedTextOf(text: string, dimensions: number): number[] {
  return embedText(text, dimensions).map((x) => Math.fround(x));
}
