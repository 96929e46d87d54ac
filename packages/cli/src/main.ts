import { userIdSchema } from '@agent-fleet/core';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ingestCommand, parseAcl, parseTenant } from './commands/ingest.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerQuotasCommand } from './commands/quotas.ts';
import { parseList, type ReviewOptions } from './commands/review-options.ts';
import { MEASURED_WORKER_THROUGHPUT, simulateCommand } from './commands/scale-simulate.ts';
import { startFleet } from './commands/start.ts';
import { type TopOptions, topCommand } from './commands/top/top.ts';
import { registerUsageCommand } from './commands/usage.ts';

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

const parseUserId = (value: string): string => {
  if (!userIdSchema.safeParse(value).success)
    throw new InvalidArgumentError('a userId is 1-128 letters, digits and ._@+-');
  return value;
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

program
  .command('review')
  .description(
    'review documents against a checklist as a user (through the gateway): progress, then the report on disk; Ctrl-C cancels',
  )
  .argument('[paths...]', 'files or folders to upload and review with the run')
  .requiredOption(
    '-c, --checklist <file>',
    'the checklist, YAML or JSON: { items: [{ id, requirement, policyRef? }] }',
  )
  .requiredOption(
    '--as <user>',
    'whose permissions apply (documents the user may not read are reported, never read)',
    parseUserId,
  )
  .option('-d, --docs <docIds>', 'ingested documents to review (comma-separated, repeatable)', parseList)
  .option(
    '-t, --tenant <tenant>',
    "review the user's tenant's documents (with --prefix: those whose docId starts with it)",
    parseTenant,
  )
  .option('-p, --prefix <docIdPrefix>', 'only documents whose docId starts with this (with --tenant)')
  .option(
    '-a, --acl <groups>',
    'who may read the uploaded files (comma-separated groups)',
    parseAcl,
    [] as string[],
  )
  .option('--public', 'the uploaded files are readable by everyone in the tenant')
  .option('-n, --name <name>', 'a name for the run')
  .addOption(
    new Option('--priority <priority>', 'among review runs (chat always goes first)').choices([
      'low',
      'normal',
      'high',
    ]),
  )
  .option('--cron <pattern>', 'also rerun on this cron pattern (each rerun reviews only changed documents)')
  .option('--tz <zone>', 'time zone of --cron (IANA, e.g. Europe/Berlin)')
  .option(
    '-o, --out <file>',
    'where to write the report (format from the extension; default review-<id>.html)',
  )
  .addOption(new Option('-f, --format <format>', 'report format').choices(['json', 'md', 'csv', 'html']))
  .option('--gateway <url>', 'the gateway (default: FLEET_GATEWAY_URL, or the fleet `npm start` runs)')
  .option(
    '--api-key <key>',
    "an API key with the reviews scope (default: FLEET_API_KEY, or npm start's admin key)",
  )
  .option('--no-progress', 'no progress bar')
  .action(async (paths: string[], opts: ReviewOptions) => {
    const { reviewCommand } = await import('./commands/review.ts');
    process.exitCode = await reviewCommand(paths, opts);
  });

registerKeysCommand(program);
registerQuotasCommand(program);
registerUsageCommand(program);

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

program
  .command('top')
  .description(
    'the fleet live: queues with backlog and oldest job, workers, LLM servers, the slowest running turns, tenants',
  )
  .option('--url <gateway>', 'the gateway (default: FLEET_GATEWAY_URL, else the fleet `npm start` runs)')
  .option(
    '--key <key>',
    'an API key with the admin scope (default: FLEET_ADMIN_KEY, else the npm start development key)',
  )
  .option('-i, --interval <s>', 'seconds between refreshes', positiveNumber, 2)
  .option('--once', 'print one screen and exit')
  .action(async (opts: { url?: string; key?: string; interval: number; once?: boolean }) => {
    const top: TopOptions = {
      intervalSeconds: opts.interval,
      ...(opts.url ? { url: opts.url } : {}),
      ...(opts.key ? { key: opts.key } : {}),
      ...(opts.once ? { once: true } : {}),
    };
    process.exitCode = await topCommand(top);
  });

await program.parseAsync(process.argv);
