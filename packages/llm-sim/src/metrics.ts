import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** vLLM's bucket boundaries for end-to-end request latency, in seconds. */
const E2E_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];

/** What one finished request contributes to the metrics. */
export interface CompletedRequest {
  finishedReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  latencySeconds: number;
}

/**
 * The subset of vLLM's Prometheus metrics the simulator exports, in a registry of its own so
 * several simulators in one process never share counters. Names and labels match vLLM's, so
 * dashboards and autoscalers built for vLLM read them unchanged.
 */
export class SimMetrics {
  readonly registry: Registry;
  readonly #modelName: string;
  readonly #running: Gauge<'model_name'>;
  readonly #success: Counter<'model_name' | 'finished_reason'>;
  readonly #latency: Histogram<'model_name'>;
  readonly #promptTokens: Counter<'model_name'>;
  readonly #generationTokens: Counter<'model_name'>;

  constructor(modelName: string) {
    this.#modelName = modelName;
    const registry = new Registry();
    this.registry = registry;
    const labelNames = ['model_name'] as const;
    this.#running = new Gauge({
      name: 'vllm:num_requests_running',
      help: 'Number of requests currently being generated.',
      labelNames,
      registers: [registry],
    });
    const waiting = new Gauge({
      name: 'vllm:num_requests_waiting',
      help: 'Number of requests waiting to be processed.',
      labelNames,
      registers: [registry],
    });
    this.#success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: ['model_name', 'finished_reason'] as const,
      registers: [registry],
    });
    this.#latency = new Histogram({
      name: 'vllm:e2e_request_latency_seconds',
      help: 'Histogram of end to end request latency in seconds.',
      labelNames,
      buckets: E2E_BUCKETS,
      registers: [registry],
    });
    this.#promptTokens = new Counter({
      name: 'vllm:prompt_tokens_total',
      help: 'Number of prefill tokens processed.',
      labelNames,
      registers: [registry],
    });
    this.#generationTokens = new Counter({
      name: 'vllm:generation_tokens_total',
      help: 'Number of generation tokens processed.',
      labelNames,
      registers: [registry],
    });
    // Export every series from the start (at 0), as vLLM does, so scrapers see them before traffic.
    const labels = { model_name: modelName };
    this.#running.set(labels, 0);
    waiting.set(labels, 0);
    this.#success.inc({ ...labels, finished_reason: 'stop' }, 0);
    this.#promptTokens.inc(labels, 0);
    this.#generationTokens.inc(labels, 0);
    this.#latency.zero(labels);
  }

  requestStarted(): void {
    this.#running.inc({ model_name: this.#modelName });
  }

  /** Call exactly once per {@link requestStarted}, whatever the outcome. */
  requestEnded(): void {
    this.#running.dec({ model_name: this.#modelName });
  }

  requestCompleted(done: CompletedRequest): void {
    const labels = { model_name: this.#modelName };
    this.#success.inc({ ...labels, finished_reason: done.finishedReason });
    this.#latency.observe(labels, done.latencySeconds);
    this.#promptTokens.inc(labels, done.promptTokens);
    this.#generationTokens.inc(labels, done.completionTokens);
  }
}
