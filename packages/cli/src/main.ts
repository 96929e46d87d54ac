import { Command, InvalidArgumentError } from 'commander';
import { ingestCommand, parseAcl, parseTenant } from './commands/ingest.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { MEASURED_WORKER_THROUGHPUT, simulateCommand } from './commands/scale-simulate.ts';
import { startFleet } from './commands/start.ts';

const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
};

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of 0 or more');
  return n;
};

const program = new Command('fleet')
  .description('agent-fleet: a fleet of per-user AI agents')
  .showHelpAfterError();

program
  .command('start')
  .description('run the fleet on the embedded stack (Redis, Postgres, LLM simulator, gateway, workers)')
  .option(
    '-w, --workers <n>',
    'a fixed number of worker processes (default: WORKERS, else autoscaled on the backlog within AUTOSCALE_MIN_WORKERS..AUTOSCALE_MAX_WORKERS)',
    positiveInt,
  )
  .option('--logs', 'stream every service log to this terminal instead of .fleet/logs/')
  .action(async (opts: { workers?: number; logs?: boolean }) => {
    await startFleet(opts);
  });

program
  .command('ingest')
  .description('index files and folders (text, Markdown, HTML, PDF) for retrieval')
  .argument('<paths...>', 'files or folders (read recursively)')
  .requiredOption('-t, --tenant <tenant>', 'the tenant the documents belong to', parseTenant)
  .option('-a, --acl <groups>', 'comma-separated groups that may read them', parseAcl, [] as string[])
  .option('--public', 'readable by everyone in the tenant')
  .option('-c, --concurrency <n>', 'files parsed at once', positiveInt)
  .action(
    async (
      paths: string[],
      opts: { tenant: string; acl: string[]; public?: boolean; concurrency?: number },
    ) => {
      process.exitCode = await ingestCommand(paths, opts);
    },
  );

registerKeysCommand(program);

program
  .command('scale')
  .description('the scaling policy of the workers')
  .command('simulate')
  .description(
    'replay a load trace (CSV: time, messages/s) through the scaling policy next to an ideal instant autoscaler',
  )
  .requiredOption('--trace <csv>', 'the load trace, e.g. packages/scaling/traces/spike.csv')
  .option(
    '--env <file>',
    "take AUTOSCALE_* and PARTITIONS from an env file (an overlay's fleet.env), not the environment",
  )
  .option(
    '--per-worker <turns/s>',
    `turns per second one worker completes (measured: ${MEASURED_WORKER_THROUGHPUT})`,
    positiveNumber,
    MEASURED_WORKER_THROUGHPUT,
  )
  .option(
    '--turn-seconds <s>',
    'a turn bound by model calls this long (caps the throughput at slots / s)',
    positiveNumber,
  )
  .option('--startup <s>', 'seconds from asking for a worker to it taking jobs', positiveNumber, 20)
  .option('--svg <file>', 'write the timeline chart as SVG')
  .option('--html <file>', 'write the figures and the chart as an HTML page')
  .option(
    '--width <columns>',
    'terminal chart width',
    positiveInt,
    Math.max(40, (process.stdout.columns ?? 100) - 12),
  )
  .action((opts: Parameters<typeof simulateCommand>[0]) => {
    process.stdout.write(simulateCommand(opts));
  });

await program.parseAsync(process.argv);
