/**
 * pnpm soak: sustained chat from many users against the embedded fleet while its processes are
 * SIGKILLed and its LLM servers misbehave on a schedule, then a ledger check from the client side.
 * Exits 0 when every accepted message was answered or failed with a reason exactly once, in each
 * user's order, with no user stuck; 1 when the ledger found a problem; 2 when the run could not be
 * made; 130 when interrupted.
 */
import { writeFileSync } from 'node:fs';
import { parseSoakOptions } from './options.ts';
import { formatReport } from './report.ts';
import { runSoak, SoakInterrupted } from './run.ts';

const opts = parseSoakOptions(process.argv);
const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nsoak: ${signal}: stopping the load and the fleet\n`);
    abort.abort();
  });
}

try {
  const report = await runSoak(opts, abort.signal);
  process.stdout.write(`${formatReport(report)}\n`);
  if (opts.report) writeFileSync(opts.report, `${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.verdict.ok ? 0 : 1;
} catch (err) {
  if (err instanceof SoakInterrupted) {
    process.exitCode = 130;
  } else {
    process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 2;
  }
}
