/**
 * What `step` returns; when it throws (a setting with a bad value, say), the process exits with
 * status 1 after one line on stderr naming `service` and saying what was wrong. For a deployable's
 * start-up only: libraries never exit the process.
 */
export function orExitAtStartup<T>(service: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    process.stderr.write(`${service}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
