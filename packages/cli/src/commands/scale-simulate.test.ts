import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { simulateCommand } from './scale-simulate.ts';

const repo = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));

describe('fleet scale simulate', () => {
  it("replays a trace through an overlay's policy and writes the figures, a chart, SVG and HTML", () => {
    const dir = mkdtempSync(join(tmpdir(), 'simulate-'));
    const out = simulateCommand({
      trace: repo('packages/scaling/traces/spike.csv'),
      env: repo('infra/k8s/overlays/prod/fleet.env'),
      perWorker: 480,
      startup: 20,
      width: 60,
      svg: join(dir, 'spike.svg'),
      html: join(dir, 'spike.html'),
    });
    expect(out).toContain('trace spike.csv: 900 s (15 min), 376,000 messages, peak 3,000/s');
    expect(out).toContain('policy: 2..40 workers, 48 turns per worker');
    for (const row of ['drain time (longest arrival → done)', 'peak backlog', 'pod-minutes', 'peak workers'])
      expect(out).toMatch(new RegExp(`${row.replace(/[()]/g, '\\$&')} +\\S+`));
    expect(out).toContain('backlog (turns waiting or running)');
    const svg = readFileSync(join(dir, 'spike.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(readFileSync(join(dir, 'spike.html'), 'utf8')).toContain(
      '<svg xmlns="http://www.w3.org/2000/svg"',
    );
  });

  it('caps a worker at its slots over the turn time when model calls bound the turns', () => {
    const out = simulateCommand({
      trace: repo('packages/scaling/traces/spike.csv'),
      env: repo('infra/k8s/overlays/prod/fleet.env'),
      perWorker: 480,
      turnSeconds: 4,
      startup: 20,
      width: 60,
    });
    expect(out).toContain('worker: 16 turns/s, 64 turns at once');
  });
});
