import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FleetError } from '@agent-fleet/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiEmbedder } from './openai-embedder.ts';

/** A tiny OpenAI-compatible embeddings server over real HTTP; `status` forces an error answer. */
describe('OpenAiEmbedder', () => {
  let server: Server;
  let baseUrl: string;
  const requests: {
    auth: string | undefined;
    body: { model: string; input: string[]; dimensions?: number };
  }[] = [];
  let answer: { status: number; dims: number } = { status: 200, dims: 4 };
  const read = async (req: IncomingMessage) => {
    let s = '';
    for await (const chunk of req) s += chunk;
    return JSON.parse(s);
  };
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = await read(req);
      requests.push({ auth: req.headers.authorization, body });
      if (req.url !== '/v1/embeddings' || answer.status !== 200) {
        res.writeHead(req.url === '/v1/embeddings' ? answer.status : 404).end('{"error":"nope"}');
        return;
      }
      const data = body.input.map((t: string, index: number) => ({
        index,
        embedding: Array.from({ length: answer.dims }, (_, i) => t.length + i),
      }));
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: data.reverse() }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('posts the OpenAI request shape and returns vectors in input order', async () => {
    answer = { status: 200, dims: 4 };
    const e = new OpenAiEmbedder({ baseUrl, model: 'bge', dimensions: 4, apiKey: 'k', sendDimensions: true });
    expect(await e.embed(['a', 'abc'])).toEqual([
      [1, 2, 3, 4],
      [3, 4, 5, 6],
    ]);
    expect(requests.at(-1)).toEqual({
      auth: 'Bearer k',
      body: { model: 'bge', input: ['a', 'abc'], encoding_format: 'float', dimensions: 4 },
    });
    expect(await e.embed([])).toEqual([]);
  });

  it('maps failures to FleetErrors that say whether a retry can help', async () => {
    const e = new OpenAiEmbedder({ baseUrl, model: 'bge', dimensions: 4 });
    answer = { status: 429, dims: 4 };
    await expect(e.embed(['x'])).rejects.toMatchObject({ code: 'upstream_error', isRetryable: true });
    answer = { status: 400, dims: 4 };
    await expect(e.embed(['x'])).rejects.toMatchObject({ code: 'upstream_error', isRetryable: false });
    answer = { status: 200, dims: 3 };
    await expect(e.embed(['x'])).rejects.toBeInstanceOf(FleetError);
    const down = new OpenAiEmbedder({ baseUrl: 'http://127.0.0.1:1/v1', model: 'bge', dimensions: 4 });
    await expect(down.embed(['x'])).rejects.toMatchObject({ code: 'unavailable', isRetryable: true });
  });
});
