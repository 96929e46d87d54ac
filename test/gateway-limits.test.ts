import { connect, type Socket } from 'node:net';
import { ApiKeyStore } from '@agent-fleet/state';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGateway, userToken } from './support/gateway.ts';

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

/** The first answer in `raw` is `status`, as JSON in the one error shape with `code` and a matching message. */
function expectJsonError(raw: string, status: number, code: string, message: RegExp): void {
  const answer = parse(raw);
  expect(answer.status).toBe(status);
  expect(answer.headers).toMatch(/content-type: application\/json/);
  expect(answer.body).toEqual({ error: { code, message: expect.stringMatching(message) } });
}

describe('slow and oversized requests are cut in the one error shape', () => {
  const { app, deps } = useGateway({
    env: { AUTH_MODE: 'required', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' },
  });
  let port: number;

  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });

  const expectCut = (x: Exchange, atMostMs: number) => {
    expect(x.closedAfterMs, `still open; got ${JSON.stringify(x.response)}`).not.toBeNull();
    expect(x.closedAfterMs!).toBeLessThan(atMostMs);
    expectJsonError(x.response, 408, 'request_timeout', /time/);
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
    expectJsonError(x.response, 431, 'headers_too_large', /header/);
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

describe('requests without a valid credential are limited per client address; sign-ins are throttled', () => {
  const JWT_SECRET = 'limits-test-secret-long-enough-for-hs256!';
  const { app, deps } = useGateway({
    env: {
      AUTH_MODE: 'required',
      JWT_SECRET,
      RATE_LIMIT_IP_PER_SECOND: '0.1',
      RATE_LIMIT_IP_BURST: '5',
      RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: '1',
      RATE_LIMIT_LOGIN_FAILURE_BURST: '3',
    },
  });
  let store: ApiKeyStore;
  let token: string;

  beforeAll(async () => {
    store = new ApiKeyStore({ pool: deps.pool });
    token = await userToken(JWT_SECRET, 'ann');
  });

  const from = (remoteAddress: string, url: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, remoteAddress, headers });
  const expectLimited = (res: LightMyRequestResponse, reason: string) => {
    expect(res.statusCode, res.body).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.json().error).toMatchObject({ code: 'rate_limited', details: { reason } });
  };

  it('many requests without a valid credential from one address get 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      // A header naming another client does not help a client that is not a trusted proxy.
      const spoof = { 'x-forwarded-for': `198.51.100.${i}` };
      statuses.push((await from('203.0.113.7', '/v1/users/ann/history', i % 2 ? spoof : {})).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expectLimited(
      await from('203.0.113.7', '/v1/users/ann/history', { authorization: 'Bearer fk_x' }),
      'ip_rate',
    );
    expectLimited(await from('203.0.113.7', '/docs/json'), 'ip_rate');
    const openAi = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      remoteAddress: '203.0.113.7',
      payload: { model: 'fleet-agent', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(openAi.statusCode).toBe(429);
    expect(openAi.json().error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });

    // Probes are never refused; a valid credential from the same address is served; others are not held back.
    expect((await from('203.0.113.7', '/healthz')).statusCode).toBe(200);
    const valid = await from('203.0.113.7', '/v1/users/ann/history', { authorization: `Bearer ${token}` });
    expect(valid.statusCode).toBe(200);
    expect((await from('203.0.113.8', '/v1/users/ann/history')).statusCode).toBe(401);
  });

  it('behind a trusted proxy (TRUST_PROXY: private networks by default) the forwarded address counts', async () => {
    const viaProxy = (client: string) =>
      from('10.1.2.3', '/v1/users/ann/history', { 'x-forwarded-for': `${client}, 10.9.9.9` });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await viaProxy('198.51.100.77')).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await viaProxy('198.51.100.78')).statusCode).toBe(401);
  });

  const signIn = (remoteAddress: string, key: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/admin/login', remoteAddress, headers, payload: { key } });

  it('failed sign-ins are throttled per address and per key id; successful ones do not count', async () => {
    const admin = await store.create({ name: 'ops', scopes: ['admin'] });
    const forged = `${admin.key.slice(0, 20)}${'A'.repeat(admin.key.length - 20)}`;
    const failures: number[] = [];
    for (let i = 0; i < 3; i++) failures.push((await signIn('192.0.2.10', forged)).statusCode);
    expect(failures).toEqual([401, 401, 401]);
    // The address is throttled, whatever it sends next, and so is the key id, wherever it comes from.
    expectLimited(await signIn('192.0.2.10', admin.key), 'login_ip');
    expectLimited(await signIn('192.0.2.11', forged), 'login_key');
    // A form gets the sign-in page back, saying so.
    const form = await app.inject({
      method: 'POST',
      url: '/admin/login',
      remoteAddress: '192.0.2.10',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `key=${encodeURIComponent(forged)}`,
    });
    expect(form.statusCode).toBe(303);
    expect(form.headers.location).toBe('/admin/login?error=throttled');

    const other = await store.create({ name: 'ops-2', scopes: ['admin'] });
    for (let i = 0; i < 4; i++) expect((await signIn('192.0.2.20', other.key)).statusCode).toBe(200);
  });

  it('sets the session cookie Secure when the client came over https through a trusted proxy', async () => {
    const { key } = await store.create({ name: 'ops-3', scopes: ['admin'] });
    const cookie = async (remote: string, headers: Record<string, string>) =>
      String((await signIn(remote, key, headers)).headers['set-cookie']);
    expect(await cookie('10.0.0.5', { 'x-forwarded-proto': 'https' })).toMatch(/; Secure/);
    // A TLS front (CDN) forwarding over http to an ingress that appends its own scheme.
    expect(await cookie('10.0.0.5', { 'x-forwarded-proto': 'https, http' })).toMatch(/; Secure/);
    expect(await cookie('10.0.0.5', { forwarded: 'for=198.51.100.9;proto=https' })).toMatch(/; Secure/);
    expect(await cookie('10.0.0.5', { 'x-forwarded-proto': 'http' })).not.toMatch(/Secure/);
    expect(await cookie('10.0.0.5', {})).not.toMatch(/Secure/);
  });
});
