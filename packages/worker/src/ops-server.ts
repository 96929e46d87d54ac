import { createServer, type Server, type ServerResponse } from 'node:http';
import { llmReadiness } from '@agent-fleet/llm';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  registry: Registry;
  /** The worker's LLM pool (its `health()`). */
  llm: { health(): { healthy: number; total: number } };
}

/**
 * The worker's operations endpoints on WORKER_METRICS_PORT: `/metrics` (Prometheus), `/healthz`
 * (the process answers) and `/readyz`, 503 naming the `llm` check while no LLM server is healthy
 * (every turn would wait on the model), 200 again once one is back. The body has the gateway's shape.
 */
export function createOpsServer(opts: OpsServerOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const llm = llmReadiness(opts.llm.health());
      json(res, llm.ok ? 200 : 503, { status: llm.ok ? 'ready' : 'not ready', checks: { llm: llm.check } });
    } else {
      res.writeHead(404).end();
    }
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
