import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../paths.ts';

/** The fleet's alert rules for any Prometheus (made by `pnpm manifests`). */
export const ALERT_RULES_FILE = join(REPO_ROOT, 'infra/observability/alerts.yaml');

/** Where a scrape target listens: `host:port` of a URL. */
const address = (url: string) => new URL(url).host;

/**
 * What a Prometheus needs to watch the fleet `fleet start` runs: `<fleetDir>/prometheus.yml` scrapes
 * the gateway and the LLM servers (vLLM's /metrics, or the simulator's) every 5 s, the workers
 * through `<fleetDir>/worker-targets.json` (rewritten as the autoscaler starts and stops them, which
 * Prometheus's file discovery follows), and evaluates the fleet's alert rules. So
 * `prometheus --config.file=.fleet/prometheus.yml` gives the dashboard and the alerts real data.
 */
export class ScrapeConfig {
  readonly configFile: string;
  readonly #targetsFile: string;
  readonly #workers = new Map<string, number>();

  constructor(opts: { fleetDir: string; gatewayUrl: string; llmBaseUrls: string[] }) {
    this.configFile = join(opts.fleetDir, 'prometheus.yml');
    this.#targetsFile = join(opts.fleetDir, 'worker-targets.json');
    const config = {
      global: { scrape_interval: '5s', evaluation_interval: '15s' },
      rule_files: [ALERT_RULES_FILE],
      scrape_configs: [
        { job_name: 'gateway', static_configs: [{ targets: [address(opts.gatewayUrl)] }] },
        { job_name: 'worker', file_sd_configs: [{ files: [this.#targetsFile] }] },
        { job_name: 'vllm', static_configs: [{ targets: opts.llmBaseUrls.map(address) }] },
      ],
    };
    // JSON is YAML: Prometheus reads it as is.
    writeFileSync(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
    this.#write();
  }

  /** Worker `name` serves its metrics on `port` (a restart keeps the port). */
  addWorker(name: string, port: number): void {
    this.#workers.set(name, port);
    this.#write();
  }

  removeWorker(name: string): void {
    this.#workers.delete(name);
    this.#write();
  }

  #write(): void {
    const targets = [...this.#workers].map(([name, port]) => ({
      targets: [`127.0.0.1:${port}`],
      labels: { worker: name },
    }));
    writeFileSync(this.#targetsFile, `${JSON.stringify(targets, null, 2)}\n`);
  }
}
