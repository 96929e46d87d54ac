/**
 * pnpm dashboard:snapshot: runs a fleet on this machine (throwaway Redis and Postgres, two LLM
 * simulators at an 8B model's speed, a gateway, two workers with their metrics ports), has Debian's
 * Prometheus scrape all of them and evaluate infra/observability/alerts.yaml, drives five minutes
 * of load through it (a ramp, a burst, a worker SIGKILLed mid-turn, an LLM outage past the outage
 * window), then evaluates every query of the committed infra/observability/dashboard.json over the
 * run, draws the panels in an HTML page where Grafana's grid puts them, and renders it with Debian's
 * Chromium to infra/observability/dashboard.png. Traffic stays on loopback.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@agent-fleet/core';
import { freePort, type ServiceHandle, spawnService } from '@agent-fleet/devstack';
import { startSim } from '@agent-fleet/llm-sim';
import { ALERTS_FILE, DASHBOARD_FILE, OBSERVABILITY_DIR } from '@agent-fleet/manifests';
import { createRetriever, ingestPaths, SAMPLE_CORPUS_DIR, SAMPLE_TENANT } from '@agent-fleet/rag';
import { createPool, ProfileStore } from '@agent-fleet/state';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import { SCRIPTS, startBenchStack } from '../bench/stack.ts';
import { startPrometheus } from './prometheus.ts';
import { type DashboardPanel, dashboardHtml, legendName, type PanelData } from './render.ts';

const opts = new Command('dashboard:snapshot')
  .option('--minutes <n>', 'length of the load', Number, 5)
  .option('--out <png>', 'where the picture goes', join(OBSERVABILITY_DIR, 'dashboard.png'))
  .parse()
  .opts<{ minutes: number; out: string }>();

const QUESTIONS = [
  'How long do we keep customer due diligence records?',
  'Who approves a politically exposed person as a customer?',
  'What must we do when a transaction looks suspicious?',
  'How often are high-risk customers reviewed?',
  'Which records may we share with a regulator?',
];
const USERS = Array.from({ length: 200 }, (_, i) => ({
  userId: `ops-user-${i}`,
  tenant: i % 3 === 2 ? 'globex' : SAMPLE_TENANT,
}));
const say = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stack = await startBenchStack();
const sims = await Promise.all([1, 2].map(() => startSim({ mode: 'extractive' })));
const children: ServiceHandle[] = [];
try {
  await seed(stack.databaseUrl);
  const env = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: stack.redis.url,
    DATABASE_URL: stack.databaseUrl,
    FLEET_NAMESPACE: 'snapshot',
    LLM_BASE_URLS: sims.map((s) => s.url).join(','),
    AUTH_MODE: 'off',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    // An LLM outage longer than this fails the turns it holds (reason `outage`).
    TURN_OUTAGE_WINDOW_MS: '8000',
  };
  const logs = join(stack.dir, 'logs');
  const gateway = spawnService({
    name: 'gateway',
    script: SCRIPTS.gateway,
    env,
    readyEvent: 'listening',
    logFile: join(logs, 'gateway.log'),
  });
  children.push(gateway);
  const gatewayUrl = (await gateway.ready)!.url;
  const metricsPorts = [await freePort(), await freePort()];
  const worker = (i: number) => {
    const w = spawnService({
      name: `worker-${i}`,
      script: SCRIPTS.worker,
      env: { ...env, WORKER_METRICS_PORT: String(metricsPorts[i]) },
      readyEvent: 'ready',
      logFile: join(logs, `worker-${i}.log`),
    });
    children.push(w);
    return w;
  };
  const workers = [worker(0), worker(1)];
  await Promise.all(workers.map((w) => w.ready));
  const prom = await startPrometheus({
    dir: stack.dir,
    ruleFile: join(OBSERVABILITY_DIR, ALERTS_FILE),
    targets: [
      { job: 'gateway', address: new URL(gatewayUrl).host },
      ...metricsPorts.map((p) => ({ job: 'worker', address: `127.0.0.1:${p}` })),
      ...sims.map((s) => ({ job: 'vllm', address: `127.0.0.1:${s.port}` })),
    ],
  });
  say(`fleet at ${gatewayUrl}, Prometheus at ${prom.url}; ${opts.minutes} minutes of load`);
  const start = Date.now() / 1000;
  const send = load(gatewayUrl);
  const total = opts.minutes * 60_000;
  const at = (f: number) => f * total;
  await send.rate(4, 12, at(0.2));
  say('a burst of 400 messages');
  await send.burst(400);
  await send.rate(10, 10, at(0.2));
  say('SIGKILL worker-1 mid-turn; it is back 5 s later');
  workers[1]!.kill('SIGKILL');
  await send.rate(10, 10, 5000);
  workers[1] = worker(1);
  await send.rate(10, 10, at(0.15));
  say('LLM outage: both simulators fail every request for 15 s');
  await Promise.all(sims.map((s) => fault(s.port, 1)));
  await send.rate(10, 10, 15_000);
  await Promise.all(sims.map((s) => fault(s.port, 0)));
  await send.rate(10, 10, Math.max(5000, total - (Date.now() / 1000 - start) * 1000));
  say(`load over: ${send.sent()} messages sent, ${send.refused()} refused; letting the fleet drain`);
  await sleep(15_000);
  const end = Date.now() / 1000;
  const panels = await evaluate(prom, [start, end]);
  const alerts = await prom.alerts();
  const html = dashboardHtml({
    title: 'agent-fleet overview',
    subtitle: `infra/observability/dashboard.json over ${Math.round((end - start) / 60)} minutes of a fleet on this machine (2 workers, 2 simulated 8B servers): a ramp, a burst of 400, a worker SIGKILLed, a 15 s LLM outage`,
    panels,
    range: [start, end],
    alerts,
  });
  writeFileSync(join(stack.dir, 'dashboard.html'), html);
  await screenshot(html, opts.out);
  say(`wrote ${opts.out}; alerts: ${alerts.map((a) => `${a.name} ${a.state}`).join(', ')}`);
  await prom.stop();
} finally {
  await Promise.all(children.map((c) => c.stop(5000).catch(() => {})));
  await Promise.all(sims.map((s) => s.close()));
  await stack.stop();
}

/** The sample corpus, and a profile per user: two tenants, the compliance group. */
async function seed(databaseUrl: string): Promise<void> {
  const pool = createPool(databaseUrl, 4);
  const retriever = await createRetriever({ ...loadConfig({}), DATABASE_URL: databaseUrl }, pool);
  try {
    await ingestPaths([SAMPLE_CORPUS_DIR], { tenant: SAMPLE_TENANT, retriever, root: SAMPLE_CORPUS_DIR });
    const profiles = new ProfileStore({ pool });
    for (const u of USERS) await profiles.put(u.userId, { tenant: u.tenant, groups: ['compliance'] });
  } finally {
    await retriever.close();
    await pool.end();
  }
}

/** Messages to random users at a rate ramping from `from` to `to` per second, or all at once. */
function load(gatewayUrl: string) {
  let sent = 0;
  let refused = 0;
  const post = () => {
    const u = USERS[Math.floor(Math.random() * USERS.length)]!;
    const text = QUESTIONS[Math.floor(Math.random() * QUESTIONS.length)]!;
    sent++;
    void fetch(`${gatewayUrl}/v1/users/${u.userId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    }).then(
      (r) => {
        if (r.status !== 202) refused++;
        return r.arrayBuffer();
      },
      () => refused++,
    );
  };
  return {
    async rate(from: number, to: number, ms: number) {
      const began = Date.now();
      let owed = 0;
      for (let t = 0; t < ms; t = Date.now() - began) {
        owed += (from + ((to - from) * t) / ms) / 10;
        for (; owed >= 1; owed--) post();
        await sleep(100);
      }
    },
    async burst(n: number) {
      for (let i = 0; i < n; i++) post();
    },
    sent: () => sent,
    refused: () => refused,
  };
}

async function fault(port: number, errorRate: number): Promise<void> {
  await fetch(`http://127.0.0.1:${port}/sim/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errorRate }),
  });
}

/** Every panel of the committed dashboard, its queries evaluated over `range` (every namespace). */
async function evaluate(
  prom: Awaited<ReturnType<typeof startPrometheus>>,
  range: [number, number],
): Promise<PanelData[]> {
  const dashboard = JSON.parse(readFileSync(join(OBSERVABILITY_DIR, DASHBOARD_FILE), 'utf8')) as {
    panels: DashboardPanel[];
  };
  const step = Math.max(5, Math.round((range[1] - range[0]) / 120));
  return Promise.all(
    dashboard.panels.map(async (panel) => {
      const series = await Promise.all(
        (panel.targets ?? []).map(async (t) => {
          const result = await prom.queryRange(
            t.expr.replaceAll('$namespace', '.*'),
            range[0],
            range[1],
            step,
          );
          return result.map((r) => ({ name: legendName(t.legendFormat, r.metric), values: r.values }));
        }),
      );
      return { panel, series: series.flat() };
    }),
  );
}

async function screenshot(html: string, out: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1560, height: 900 }, deviceScaleFactor: 1 });
    await page.setContent(html);
    mkdirSync(join(out, '..'), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    await browser.close();
  }
}
