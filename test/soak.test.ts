import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SoakReport } from '../scripts/soak/report.ts';
import { FAULT_KINDS } from '../scripts/soak/schedule.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SOAK = join(ROOT, 'scripts/soak/main.ts');

/**
 * The soak as `pnpm soak` runs it, shortened to about two minutes with a dense fault schedule
 * (one fault every 9 s, every kind at least once: a worker, the gateway, a simulator, redis-server
 * and PostgreSQL SIGKILLed, kept down 5 s and brought back by the Supervisor, LLM errors and
 * latency spikes), then the client-side ledger: nothing lost, duplicated, reordered or stuck, and
 * every 202 still known after each SIGKILL of redis-server.
 */
describe('soak: sustained chat through every kind of fault', () => {
  it('keeps the ledger: 0 lost, 0 duplicated, 0 reordered, 0 stuck', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soak-test-'));
    const reportFile = join(dir, 'report.json');
    try {
      // biome-ignore format: one option and its value per line
      const { code, output } = await run([
          '--minutes', '1.5',
          '--rate', '12',
          '--users', '150',
          '--fault-every', '9',
          '--outage', '5',
          '--drain', '120',
          '--seed', '20261125',
          '--report', reportFile,
        ]);
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as SoakReport;
      const { counts } = report.verdict;
      expect(
        {
          lost: counts.lost,
          duplicated: counts.duplicated,
          reordered: counts.reordered,
          stuck: counts.stuck,
        },
        output,
      ).toEqual({
        lost: 0,
        duplicated: 0,
        reordered: 0,
        stuck: 0,
      });
      expect(report.verdict.problems, output).toEqual([]);
      expect(code, output).toBe(0);
      expect(report.verdict.answered).toBeGreaterThan(500);
      expect(new Set(report.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
      for (const fault of report.faults) {
        expect(fault.error, `fault ${fault.index} (${fault.kind})`).toBeUndefined();
        expect(fault.recoveredMs, `fault ${fault.index} (${fault.kind}): turns complete again`).toBeDefined();
        if (fault.durability) expect(fault.durability.unknownAfter).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

/** Runs the soak as a child process; resolves with its exit code and everything it printed. */
function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}
