import { Command, InvalidArgumentError } from 'commander';
import { ingestCommand, parseAcl, parseTenant } from './commands/ingest.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { startFleet } from './commands/start.ts';

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

await program.parseAsync(process.argv);
