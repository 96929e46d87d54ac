/**
 * pnpm bench:llm: the LLM pool against simulated vLLM servers.
 * 1. Saturation: many users in multi-turn conversations (growing history) with a backlog;
 *    generation tokens/s achieved ÷ the servers' configured maximum (modelled time).
 * 2. Routing: `session` vs `round-robin` on the same conversations, same run: prefix-cache hit
 *    rate and time to first token (mean, p95).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnService } from '@agent-fleet/devstack';
import { LlmPool, type PoolMessage, type RoutingStrategy, sumMetric } from '@agent-fleet/llm';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { percentile, ROOT, SCRIPTS } from './stack.ts';

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};
const opts = new Command('bench:llm')
  .description('LLM pool saturation and routing against simulated vLLM servers')
  .option('--servers <n>', 'simulator processes for the saturation run', num, 2)
  .option('--users <n>', 'concurrent conversations in the saturation run', num, 576)
  .option('--turns <n>', 'turns per conversation', num, 3)
  .option('--time-scale <x>', 'simulator time scale of the saturation run (0.2 = 5x faster)', num, 0.2)
  .option('--routing-servers <n>', 'simulator processes for the routing comparison', num, 4)
  .option('--routing-users <n>', 'conversations in the routing comparison', num, 48)
  .option('--routing-turns <n>', 'turns per conversation in the routing comparison', num, 5)
  .parse()
  .opts<{
    servers: number;
    users: number;
    turns: number;
    timeScale: number;
    routingServers: number;
    routingUsers: number;
    routingTurns: number;
  }>();

const SYSTEM =
  'You are the personal assistant of a compliance officer at a large bank. You answer from the ' +
  'bank policies and the regulations in force, cite your sources, flag uncertainty, and never give ' +
  'legal advice beyond the policies. '.repeat(6);

/**
 * Answers of about 250 tokens, as a compliance assistant's are: the simulator's `script` mode
 * replies with this text to every request, so each turn generates far more than it prefills.
 */
const ANSWER = [
  'Under the Record Retention Standard, customer due diligence records, including identification documents,',
  'beneficial ownership information and the risk assessment, are kept for seven years after the business',
  'relationship ends or the occasional transaction is completed [1]. Transaction records are kept for the same',
  'period and must allow each transaction to be reconstructed, with amounts, currencies, dates and the accounts',
  'involved [2]. Where a suspicious activity report was filed, the supporting analysis and the report itself are',
  'retained for at least ten years, and the retention period is extended while any investigation, litigation or',
  'regulatory inquiry is pending; Legal places a hold and the scheduled deletion is suspended until the hold is',
  'lifted [3]. Recordings of telephone conversations and electronic communications that relate to transactions',
  'in financial instruments are kept for five years, or seven where the supervisor requests it [4]. Records are',
  'stored in the approved archive, protected against alteration, and deleted or anonymised at the end of the',
  'period unless a hold applies. If you are unsure which period applies to a document, treat it under the longest',
  'applicable period and ask Compliance Advisory for a ruling, which will be recorded in the retention register.',
  'Business units review their retention schedules every year and confirm to Compliance that expired records were',
  'deleted; exceptions are reported to the Records Committee with the reason and the date by which they will be closed.',
].join(' ');

function writeScript(): string {
  const dir = join(ROOT, '.fleet', 'bench-logs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'answers.json');
  writeFileSync(file, JSON.stringify([{ reply: ANSWER, times: 1_000_000 }]));
  return file;
}

function question(user: number, turn: number, words: number): string {
  const topics = ['retention', 'sanctions', 'gifts', 'complaints', 'insider lists', 'vendors', 'training'];
  const filler = Array.from({ length: words }, (_, i) => topics[(user + turn + i) % topics.length]).join(' ');
  return `Turn ${turn} of officer ${user}: what does the policy say about ${filler}?`;
}

async function startSims(n: number, env: Record<string, string>) {
  const script = writeScript();
  const sims = Array.from({ length: n }, (_, i) =>
    spawnService({
      name: `llm-sim-${i}`,
      script: SCRIPTS.llmSim,
      env: { PATH: process.env.PATH, SIM_PORT: '0', SIM_MODE: 'script', SIM_SCRIPT_FILE: script, ...env },
      readyEvent: 'listening',
      logFile: join(ROOT, '.fleet', 'bench-logs', `llm-sim-${i}.log`),
    }),
  );
  const urls = (await Promise.all(sims.map((s) => s.ready))).map((info) => info!.url);
  return { urls, stop: () => Promise.all(sims.map((s) => s.stop())) };
}

async function scrape(urls: string[], name: string): Promise<number> {
  const values = await Promise.all(
    urls.map(
      async (u) => sumMetric(await (await fetch(`${u.replace(/\/v1$/, '')}/metrics`)).text(), name) ?? 0,
    ),
  );
  return values.reduce((a, b) => a + b, 0);
}

/** Users talk concurrently; each user's turns go one after another, the history growing. */
async function converse(
  pool: LlmPool,
  users: number,
  turns: number,
  words: number,
  stream: boolean,
  onTurn: (ttftMs: number | undefined, completionTokens: number) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: users }, async (_, u) => {
      const history: PoolMessage[] = [];
      for (let t = 1; t <= turns; t++) {
        const q = question(u, t, words);
        const messages: PoolMessage[] = [
          { role: 'system', content: SYSTEM },
          ...history,
          { role: 'user', content: q },
        ];
        // Answers vary in length, as real ones do; the batch refills as each one ends.
        const maxTokens = 120 + ((u * 7919 + t * 104_729) % 200);
        const req = { userId: `officer-${u}`, tenant: 'acme-bank', messages, maxTokens };
        let reply = '';
        let tokens = 0;
        let ttft: number | undefined;
        if (stream) {
          const started = performance.now();
          for await (const ev of pool.chatStream(req)) {
            if (ev.type === 'delta' && ttft === undefined) ttft = performance.now() - started;
            if (ev.type === 'done') {
              reply = ev.result.content;
              tokens = ev.result.completionTokens;
            }
          }
        } else {
          const res = await pool.chat(req);
          reply = res.content;
          tokens = res.completionTokens;
        }
        history.push({ role: 'user', content: q }, { role: 'assistant', content: reply });
        onTurn(ttft, tokens);
      }
    }),
  );
}

function progress(label: string, total: number) {
  const bar = new SingleBar({
    format: `${label.padEnd(22)} [{bar}] {value}/{total} turns`,
    hideCursor: true,
  });
  bar.start(total, 0);
  return bar;
}

async function saturation() {
  const sims = await startSims(opts.servers, { SIM_TIME_SCALE: String(opts.timeScale) });
  try {
    const engine = (await (await fetch(`${sims.urls[0]!.replace(/\/v1$/, '')}/sim/engine`)).json()) as {
      config: { maxNumSeqs: number };
      capacity: { maxGenerationTokensPerSecond: number };
    };
    const pool = new LlmPool({
      servers: sims.urls,
      apiKey: 'bench',
      model: 'fleet-sim',
      routing: 'session',
      maxInFlightPerServer: engine.config.maxNumSeqs,
      healthIntervalMs: 1000,
      requestTimeoutMs: 600_000,
      queueTimeoutMs: 600_000,
    });
    const total = opts.users * opts.turns;
    const bar = progress('saturation', total);
    let done = 0;
    let tokens = 0;
    const started = performance.now();
    await converse(pool, opts.users, opts.turns, 12, false, (_ttft, n) => {
      tokens += n;
      bar.update(++done);
    });
    const wallSeconds = (performance.now() - started) / 1000;
    bar.stop();
    pool.close();
    const hits = await scrape(sims.urls, 'vllm:prefix_cache_hits_total');
    const queries = await scrape(sims.urls, 'vllm:prefix_cache_queries_total');
    const preemptions = await scrape(sims.urls, 'vllm:num_preemptions_total');
    const achieved = (tokens / wallSeconds) * opts.timeScale; // in modelled time
    const maximum = engine.capacity.maxGenerationTokensPerSecond * opts.servers;
    return { achieved, maximum, tokens, wallSeconds, hitRate: queries > 0 ? hits / queries : 0, preemptions };
  } finally {
    await sims.stop();
  }
}

async function routing(strategy: RoutingStrategy) {
  const sims = await startSims(opts.routingServers, { SIM_TIME_SCALE: '1' });
  try {
    const pool = new LlmPool({
      servers: sims.urls,
      apiKey: 'bench',
      model: 'fleet-sim',
      routing: strategy,
      healthIntervalMs: 1000,
      requestTimeoutMs: 120_000,
    });
    const bar = progress(`routing: ${strategy}`, opts.routingUsers * opts.routingTurns);
    const ttfts: number[] = [];
    let done = 0;
    await converse(pool, opts.routingUsers, opts.routingTurns, 12, true, (ttft) => {
      if (ttft !== undefined) ttfts.push(ttft);
      bar.update(++done);
    });
    bar.stop();
    pool.close();
    const hits = await scrape(sims.urls, 'vllm:prefix_cache_hits_total');
    const queries = await scrape(sims.urls, 'vllm:prefix_cache_queries_total');
    const mean = ttfts.reduce((a, b) => a + b, 0) / ttfts.length;
    return { strategy, hitRate: queries > 0 ? hits / queries : 0, mean, p95: percentile(ttfts, 0.95) };
  } finally {
    await sims.stop();
  }
}

const sat = await saturation();
const session = await routing('session');
const roundRobin = await routing('round-robin');

console.log('');
console.log(
  `saturation: ${opts.users} conversations x ${opts.turns} turns on ${opts.servers} simulated vLLM servers (time scale ${opts.timeScale})`,
);
console.log(`  generation achieved   ${sat.achieved.toFixed(0).padStart(6)} tokens/s (modelled time)`);
console.log(
  `  configured maximum    ${sat.maximum.toFixed(0).padStart(6)} tokens/s (${opts.servers} x batch-256 peak)`,
);
console.log(`  ratio                 ${(sat.achieved / sat.maximum).toFixed(2).padStart(6)}   (aim >= 0.9)`);
console.log(
  `  prefix-cache hit rate ${(sat.hitRate * 100).toFixed(1).padStart(5)}%, preemptions ${sat.preemptions}`,
);
console.log('');
console.log(
  `routing: ${opts.routingUsers} conversations x ${opts.routingTurns} turns on ${opts.routingServers} servers, real time`,
);
console.log('  strategy      prefix-cache hit rate   TTFT mean   TTFT p95');
for (const r of [session, roundRobin]) {
  console.log(
    `  ${r.strategy.padEnd(12)}  ${(r.hitRate * 100).toFixed(1).padStart(20)}%  ${r.mean.toFixed(0).padStart(7)} ms  ${r.p95.toFixed(0).padStart(6)} ms`,
  );
}
console.log(`  session / round-robin mean TTFT: ${(session.mean / roundRobin.mean).toFixed(2)} (aim <= 0.5)`);
