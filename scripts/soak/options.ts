import { randomSeed } from '@agent-fleet/llm-sim';
import { Command } from 'commander';
import { z } from 'zod';
import { FAULT_KINDS, type FaultKind } from './schedule.ts';

/** Unset options keep their default; commander hands every value over as a string. */
const number = (schema: z.ZodNumber) => z.coerce.number().pipe(schema);

const faultList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.enum(FAULT_KINDS, { error: `use a comma-separated list of ${FAULT_KINDS.join(', ')}` }))
      .transform((kinds) => [...new Set(kinds)] as FaultKind[]),
  );

/** Everything a soak run is told, validated once. */
export const soakOptionsSchema = z.object({
  minutes: number(
    z
      .number()
      .positive()
      .max(24 * 60),
  ).default(10),
  rate: number(z.number().positive().max(2000)).default(10),
  users: number(z.number().int().min(1).max(100_000)).default(300),
  sdkShare: number(z.number().min(0).max(1)).default(0.2),
  workers: number(z.number().int().min(1).max(16)).default(2),
  faultEvery: number(z.number().min(2).max(3600)).default(30),
  outage: number(z.number().min(0).max(3600)).default(0),
  faults: z.union([faultList, z.array(z.enum(FAULT_KINDS))]).default([...FAULT_KINDS]),
  drain: number(z.number().min(5).max(3600)).default(120),
  seed: number(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
  ).default(() => randomSeed()),
  report: z.string().min(1).optional(),
  keep: z.boolean().default(false),
});
export type SoakOptions = z.infer<typeof soakOptionsSchema>;

/** `pnpm soak` options, as commander reads them (validated by `soakOptionsSchema` afterwards). */
export function soakCommand(): Command {
  return new Command('soak')
    .description(
      'sustained chat against the embedded fleet while its processes are SIGKILLed on a schedule; ' +
        'then a ledger check from the client side (exit 1 when a turn is lost, duplicated, reordered or stuck)',
    )
    .option('--minutes <m>', 'how long messages are sent (default 10)')
    .option('--rate <r>', 'messages per second, all users together (default 10)')
    .option('--users <n>', 'distinct users (default 300)')
    .option('--sdk-share <f>', 'share of the users that send through the SDK instead of HTTP (default 0.2)')
    .option('--workers <n>', 'worker processes (default 2)')
    .option('--fault-every <s>', 'seconds between two faults (default 30)')
    .option(
      '--outage <s>',
      'seconds a killed process stays down before the Supervisor may restart it (default 0)',
    )
    .option('--faults <kinds>', `which faults, comma-separated (default all: ${FAULT_KINDS.join(',')})`)
    .option('--drain <s>', 'seconds to wait for the fleet to finish after the load stops (default 120)')
    .option('--seed <n>', 'seed of the fault schedule and the load (default random, printed)')
    .option('--report <file>', 'also write the report as JSON to this file')
    .option('--keep', 'keep the run directory (.fleet/soak-*, with every service log) instead of removing it')
    .showHelpAfterError();
}

/** Parses argv into validated options; a bad value exits with a message naming the option. */
export function parseSoakOptions(argv: readonly string[]): SoakOptions {
  const command = soakCommand();
  command.parse(argv as string[]);
  const parsed = soakOptionsSchema.safeParse(command.opts());
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  --${kebab(String(i.path[0]))}: ${i.message}`);
  return command.error(`soak: invalid options:\n${lines.join('\n')}`);
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
