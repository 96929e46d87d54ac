import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/**
 * A `fetch` for the LLM client over node:http with keep-alive agents. The `openai` package takes
 * any fetch; this one skips the WHATWG machinery of the built-in fetch on the request side, which
 * is most of a worker's CPU per LLM call when replies are short. Responses stream as usual.
 */
export function createHttpFetch(opts: { maxSockets?: number } = {}): typeof fetch {
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 }),
  };
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) return fetch(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string') return fetch(input, init);
    if (typeof body === 'string') headers['content-length'] = String(Buffer.byteLength(body));
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        url,
        { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'], signal },
        resolve,
      );
      req.on('error', reject);
      req.end(body ?? undefined);
    });
    const responseHeaders = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (Array.isArray(v)) for (const item of v) responseHeaders.append(k, item);
      else if (v !== undefined) responseHeaders.set(k, v);
    }
    const status = res.statusCode ?? 500;
    const nullBody = status === 204 || status === 304 || init.method === 'HEAD';
    return new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
      status,
      statusText: res.statusMessage ?? '',
      headers: responseHeaders,
    });
  }) as typeof fetch;
}
