import { execFileSync } from 'node:child_process';

/**
 * Whether Prometheus's promtool is on the PATH (the bootstrap installs it for `npm test` where it
 * can); the checks that run it are skipped, and say so, where it is not.
 */
export const promtoolInstalled = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Runs `promtool check <what> <files...>` and returns what it printed; throws if it refuses them. */
export function promtoolCheck(what: 'config' | 'rules', files: string[]): string {
  return execFileSync('promtool', ['check', what, ...files], { encoding: 'utf8' });
}
