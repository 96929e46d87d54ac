import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkServer, llmReadiness, ServerMonitor } from './server-monitor.ts';
import { simFixtures } from './testing/sim-fixtures.ts';

const { sim } = simFixtures();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A server answering every request with `status`, as an API without vLLM's routes would. */
async function answering(status: number): Promise<string> {
  const s = createServer((_req, res) => res.writeHead(status).end());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`;
}

/** A server that never answers requests to `hung` paths (a hung or very busy vLLM) and 200s the rest. */
async function hanging(hung: string[]): Promise<string> {
  const s = createServer((req, res) => {
    if (!hung.includes(req.url ?? '')) res.writeHead(200).end();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`;
}

describe('server health', () => {
  it('a server is healthy unless unreachable or answering 5xx; one without a /health route stays usable', async () => {
    const up = await sim();
    expect(await checkServer(up.url, fetch, 1000)).toMatchObject({ healthy: true });
    expect(await checkServer(await answering(404), fetch, 1000)).toMatchObject({ healthy: true });
    expect(await checkServer(await answering(503), fetch, 1000)).toMatchObject({ healthy: false });
    await up.close();
    expect(await checkServer(up.url, fetch, 1000)).toMatchObject({ healthy: false });
  });

  it('a /health that times out is unhealthy; a /metrics scrape that times out after it answered is not', async () => {
    expect(await checkServer(await hanging(['/health']), fetch, 100)).toMatchObject({
      healthy: false,
      timedOut: true,
    });
    expect(await checkServer(await hanging(['/metrics']), fetch, 100)).toMatchObject({
      healthy: true,
      running: 0,
      waiting: 0,
    });
  });

  it('the monitor counts a healthy server down at its second /health timeout in a row, a refusal at once', async () => {
    const hung = await hanging(['/health']);
    const closed = await sim();
    const rounds: boolean[][] = [];
    const monitor = new ServerMonitor({
      urls: [hung, closed.url],
      intervalMs: 0,
      timeoutMs: 100,
      onCheck: (results) => rounds.push(results.map((r) => r.healthy)),
    });
    await closed.close();
    await monitor.check();
    await monitor.check();
    await monitor.check();
    expect(rounds).toEqual([
      [true, false],
      [false, false],
      [false, false],
    ]);
  });

  it('the monitor checks at start and then periodically, and says when no server is healthy', async () => {
    const a = await sim();
    const b = await sim();
    const rounds: boolean[][] = [];
    const monitor = new ServerMonitor({
      urls: [a.url, b.url],
      intervalMs: 50,
      onCheck: (results) => rounds.push(results.map((r) => r.healthy)),
    });
    await monitor.start();
    expect(rounds).toEqual([[true, true]]);
    await Promise.all([a.close(), b.close()]);
    await expect.poll(() => monitor.healthy, { timeout: 2000 }).toBe(0);
    monitor.close();
    expect(llmReadiness({ healthy: monitor.healthy, total: 2 })).toEqual({
      ok: false,
      check: 'down: no LLM server is healthy (0 of 2)',
    });
    expect(llmReadiness({ healthy: 1, total: 2 })).toEqual({ ok: true, check: 'ok' });
  });
});
