import { execFileSync, spawnSync } from 'node:child_process';
import { kustomize } from './kustomize.ts';
import { type K8sObject, parseObjects } from './objects.ts';

export type Renderer = 'kubectl' | 'builtin';

let kubectlPresent: boolean | undefined;

/** Whether `kubectl kustomize` can run here (checked once). */
export function hasKubectl(): boolean {
  kubectlPresent ??= spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
  return kubectlPresent;
}

/**
 * The objects of a kustomization: with `kubectl kustomize` where kubectl exists (or when asked),
 * otherwise with the built-in renderer of the same subset.
 */
export function renderKustomization(
  dir: string,
  renderer?: Renderer,
): { objects: K8sObject[]; renderer: Renderer } {
  const use = renderer ?? (hasKubectl() ? 'kubectl' : 'builtin');
  if (use === 'builtin') return { objects: kustomize(dir), renderer: use };
  const text = execFileSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { objects: parseObjects(text, `kubectl kustomize ${dir}`), renderer: use };
}
