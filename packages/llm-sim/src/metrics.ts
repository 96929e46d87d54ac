import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineObserver, SequenceResult } from './engine/engine.ts';

/** vLLM's bucket boundaries, in seconds. */
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
const ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/** vLLM's `build_1_2_5_buckets(max)`: 1, 2, 5, 10, 20, 50, ... up to `max`. */
function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let e = 1; ; e *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * e > max) return out;
      out.push(m * e);
    }
  }
}

type L = 'model_name';

/**
 * The vLLM V1 Prometheus metrics the simulator models, with vLLM's names, types, help texts and
 * buckets, labelled by `model_name`, in a registry of its own so several simulators in one process
 * never share counters. Gauges are read from the engine at scrape time; counters and histograms
 * are fed by engine events ({@link observer}). Every series exists from the start (at 0).
 */
export class SimMetrics {
  readonly registry: Registry;
  readonly observer: EngineObserver;

  constructor(modelName: string, maxModelLen: number, engine: () => Engine) {
    const registry = new Registry();
    this.registry = registry;
    const labelNames = ['model_name'] as const;
    const labels = { model_name: modelName };
    const registers = [registry];

    const gauge = (name: string, help: string, read: (e: Engine) => number) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.set(labels, read(engine()));
        },
      });
    gauge(
      'vllm:num_requests_running',
      'Number of requests in model execution batches.',
      (e) => e.stats.running,
    );
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (e) => e.stats.waiting);
    gauge(
      'vllm:kv_cache_usage_perc',
      'KV-cache usage. 1 means 100 percent usage.',
      (e) => e.stats.kvCacheUsage,
    );

    const counter = (name: string, help: string) => {
      const c = new Counter<L>({ name, help, labelNames, registers });
      c.inc(labels, 0);
      return c;
    };
    const prefixQueries = counter(
      'vllm:prefix_cache_queries_total',
      'Prefix cache queries, in terms of number of queried tokens.',
    );
    const prefixHits = counter(
      'vllm:prefix_cache_hits_total',
      'Prefix cache hits, in terms of number of cached tokens.',
    );
    const preemptions = counter(
      'vllm:num_preemptions_total',
      'Cumulative number of preemption from the engine.',
    );
    const promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    const generationTokens = counter(
      'vllm:generation_tokens_total',
      'Number of generation tokens processed.',
    );
    const success = new Counter<L | 'finished_reason'>({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: ['model_name', 'finished_reason'] as const,
      registers,
    });
    for (const reason of ['stop', 'length', 'abort']) success.inc({ ...labels, finished_reason: reason }, 0);

    const histogram = (name: string, help: string, buckets: number[]) => {
      const h = new Histogram<L>({ name, help, labelNames, buckets, registers });
      h.zero(labels);
      return h;
    };
    const ttft = histogram(
      'vllm:time_to_first_token_seconds',
      'Histogram of time to first token in seconds.',
      TTFT_BUCKETS,
    );
    const itl = histogram(
      'vllm:inter_token_latency_seconds',
      'Histogram of inter-token latency in seconds.',
      ITL_BUCKETS,
    );
    const e2e = histogram(
      'vllm:e2e_request_latency_seconds',
      'Histogram of e2e request latency in seconds.',
      REQUEST_LATENCY_BUCKETS,
    );
    const queue = histogram(
      'vllm:request_queue_time_seconds',
      'Histogram of time spent in WAITING phase for request.',
      REQUEST_LATENCY_BUCKETS,
    );
    const inference = histogram(
      'vllm:request_inference_time_seconds',
      'Histogram of time spent in RUNNING phase for request.',
      REQUEST_LATENCY_BUCKETS,
    );
    const iterationTokens = histogram(
      'vllm:iteration_tokens_total',
      'Histogram of number of tokens per engine_step.',
      ITERATION_TOKEN_BUCKETS,
    );
    const tokenBuckets = buckets125(maxModelLen);
    const promptHist = histogram(
      'vllm:request_prompt_tokens',
      'Number of prefill tokens processed.',
      tokenBuckets,
    );
    const genHist = histogram(
      'vllm:request_generation_tokens',
      'Number of generation tokens processed.',
      tokenBuckets,
    );

    this.observer = {
      stepFinished: ({ prefillTokens, decodeTokens, generatedTokens }) => {
        iterationTokens.observe(labels, prefillTokens + decodeTokens);
        if (generatedTokens > 0) generationTokens.inc(labels, generatedTokens);
      },
      admitted: ({ queries, hits }) => {
        prefixQueries.inc(labels, queries);
        prefixHits.inc(labels, hits);
      },
      preempted: (n) => preemptions.inc(labels, n),
      firstToken: ({ ttftMs, promptTokens: n }) => {
        ttft.observe(labels, ttftMs / 1000);
        promptTokens.inc(labels, n);
      },
      interToken: (ms) => itl.observe(labels, ms / 1000),
      finished: (r: SequenceResult) => {
        success.inc({ ...labels, finished_reason: r.finishReason });
        e2e.observe(labels, r.e2eMs / 1000);
        if (r.queueMs !== undefined) queue.observe(labels, r.queueMs / 1000);
        if (r.inferenceMs !== undefined) inference.observe(labels, r.inferenceMs / 1000);
        promptHist.observe(labels, r.promptTokens);
        genHist.observe(labels, r.completionTokens);
      },
    };
  }
}
