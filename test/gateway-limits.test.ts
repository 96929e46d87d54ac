import { connect, type Socket } from 'node:net';
import { createLogger, loadConfig } from '@agent-fleet/core';
import { buildGateway, createGatewayDeps, type GatewayDeps } from '@agent-fleet/gateway';
import { ApiKeyStore } from '@agent-fleet/state';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from './support/stack.ts';

interface Exchange {
  /** Everything the gateway sent before the connection ended (or the deadline passed). */
  response: string;
  /** When the gateway ended the connection, in ms after it was opened; null if it was still open. */
  closedAfterMs: number | null;
}

/** Opens a raw TCP connection, lets `talk` write to it, and collects the answer until close or `deadlineMs`. */
function exchange(port: number, talk: (socket: Socket) => void, deadlineMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      response += d;
    });
    socket.on('error', () => {});
    const deadline = setTimeout(() => {
      socket.destroy();
      resolve({ response, closedAfterMs: null });
    }, deadlineMs);
    socket.once('close', () => {
      clearTimeout(deadline);
      resolve({ response, closedAfterMs: Date.now() - started });
    });
    socket.once('connect', () => talk(socket));
  });
}

/** Sends `head` at once, then `chunks` one by one, `everyMs` apart, while the connection stays open. */
function slowly(head: string, chunks: string[], everyMs = 200): (socket: Socket) => void {
  return (socket) => {
    socket.write(head);
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i >= chunks.length) return clearInterval(timer);
      socket.write(chunks[i++]!);
    }, everyMs);
    socket.once('close', () => clearInterval(timer));
  };
}

/** The status, headers and parsed JSON body of the first HTTP/1.1 answer in `raw`. */
function parse(raw: string): { status: number; headers: string; body: unknown } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, end).toLowerCase();
  const length = Number(/content-length: (\d+)/.exec(head)?.[1] ?? 0);
  const body = raw.slice(end + 4, end + 4 + length);
  return { status: Number(head.split(' ')[1]), headers: head, body: body ? JSON.parse(body) : null };
}

describe('slow and oversized requests are cut in the one error shape', () => {
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    const config = loadConfig({
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: freshNamespace(),
      AUTH_MODE: 'required',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
    });
    deps = await createGatewayDeps(config, createLogger('limits-test', 'silent'));
    app = await buildGateway(deps);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });

  const expectCut = (x: Exchange, atMostMs: number) => {
    expect(x.closedAfterMs, `still open; got ${JSON.stringify(x.response)}`).not.toBeNull();
    expect(x.closedAfterMs!).toBeLessThan(atMostMs);
    const answer = parse(x.response);
    expect(answer.status).toBe(408);
    expect(answer.headers).toMatch(/content-type: application\/json/);
    expect(answer.body).toEqual({
      error: { code: 'request_timeout', message: expect.stringMatching(/time/) },
    });
  };

  it('a body trickled one byte at a time (a slow loris) is cut after the request timeout, credential or not', async () => {
    const head = (auth: string) =>
      `POST /v1/users/ann/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${auth}Content-Length: 4000\r\n\r\n`;
    const body = `{"text":"${'x'.repeat(3000)}`.split('');
    const [anonymous, forged] = await Promise.all([
      exchange(port, slowly(head(''), body), 10_000),
      exchange(port, slowly(head('Authorization: Bearer fk_forged\r\n'), body), 10_000),
    ]);
    // The unauthenticated ones got their 401 at once; the connection is cut all the same.
    for (const x of [anonymous, forged]) {
      expect(x.closedAfterMs, 'still open').not.toBeNull();
      expect(x.closedAfterMs!).toBeLessThan(5000);
    }
    expect(parse(anonymous.response).status).toBe(401);
  });

  it('headers trickled one line at a time are cut after the headers timeout', async () => {
    const lines = Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: 1\r\n`);
    const x = await exchange(port, slowly('GET /healthz HTTP/1.1\r\nHost: x\r\n', lines), 10_000);
    expectCut(x, 4000);
  });

  it('a body of a request that passed authentication is cut after the request timeout with 408', async () => {
    const { key } = await new ApiKeyStore({ pool: deps.pool }).create({ name: 'slow', scopes: ['admin'] });
    const head =
      'PUT /v1/users/ann/profile HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n`;
    const body = `{"tenant":"acme","groups":[],"roleContext":"${'x'.repeat(900)}`.split('');
    const x = await exchange(port, slowly(head, body), 10_000);
    expectCut(x, 5000);
  });

  it('a 60 KB header is refused with 431 in the error shape', async () => {
    const x = await exchange(
      port,
      (s) => s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(60 * 1024)}\r\n\r\n`),
      5000,
    );
    const answer = parse(x.response);
    expect(answer.status).toBe(431);
    expect(answer.headers).toMatch(/content-type: application\/json/);
    expect(answer.body).toEqual({
      error: { code: 'headers_too_large', message: expect.stringMatching(/header/) },
    });
  });

  it('a request that is not HTTP is refused with 400 in the error shape', async () => {
    const x = await exchange(port, (s) => s.write('HELLO THERE\r\n\r\n'), 5000);
    const answer = parse(x.response);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: { code: 'invalid_request', message: expect.stringMatching(/HTTP/) },
    });
  });
});
