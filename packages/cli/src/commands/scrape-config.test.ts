import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promtoolCheck, promtoolInstalled } from '../../../../test/support/promtool.ts';
import { ALERT_RULES_FILE, ScrapeConfig } from './scrape-config.ts';

describe('ScrapeConfig: a Prometheus configuration for the fleet fleet start runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-scrape-'));
  const scrape = new ScrapeConfig({
    fleetDir: dir,
    gatewayUrl: 'http://localhost:8080',
    llmBaseUrls: ['http://127.0.0.1:9000/v1', 'http://127.0.0.1:9001/v1'],
  });
  const targets = () => JSON.parse(readFileSync(join(dir, 'worker-targets.json'), 'utf8'));

  it('scrapes the gateway and the LLM servers, the workers by file, and loads the alert rules', () => {
    const config = JSON.parse(readFileSync(scrape.configFile, 'utf8'));
    expect(config.rule_files).toEqual([ALERT_RULES_FILE]);
    expect(config.scrape_configs).toEqual([
      { job_name: 'gateway', static_configs: [{ targets: ['localhost:8080'] }] },
      { job_name: 'worker', file_sd_configs: [{ files: [join(dir, 'worker-targets.json')] }] },
      { job_name: 'vllm', static_configs: [{ targets: ['127.0.0.1:9000', '127.0.0.1:9001'] }] },
    ]);
    expect(targets()).toEqual([]);
  });

  it('lists the workers as they come and go', () => {
    scrape.addWorker('worker-0', 4100);
    scrape.addWorker('worker-1', 4101);
    scrape.removeWorker('worker-0');
    expect(targets()).toEqual([{ targets: ['127.0.0.1:4101'], labels: { worker: 'worker-1' } }]);
  });

  it.skipIf(!promtoolInstalled)('is a configuration promtool accepts, rules included', () => {
    const out = promtoolCheck('config', [scrape.configFile]);
    expect(out).toMatch(/SUCCESS/);
  });
});
