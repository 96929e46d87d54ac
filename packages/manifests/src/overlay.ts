import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FleetConfig, loadConfig } from '@agent-fleet/core';
import { tracingSettings } from '@agent-fleet/telemetry';
import { parse } from 'yaml';

/** infra/k8s of this repository. */
export const K8S_DIR = fileURLToPath(new URL('../../../infra/k8s/', import.meta.url));

/** An overlay and its settings: the namespace it deploys to and its fleet.env, parsed by the fleet's schema. */
export interface Overlay {
  name: string;
  dir: string;
  namespace: string;
  config: FleetConfig;
}

/** Every overlay under infra/k8s/overlays, by name. */
export function overlayDirs(root = K8S_DIR): string[] {
  const dir = join(root, 'overlays');
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(dir, e.name))
    .sort();
}

/** KEY=VALUE lines of an env file, as kustomize's `envs` reads them (# comments, blank lines skipped). */
export function parseEnvFile(text: string, source: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`${source}: "${line}" is not KEY=VALUE`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/**
 * Reads an overlay's namespace (its kustomization.yaml) and settings (its fleet.env) and checks the
 * settings with the fleet's configuration schema and the tracing settings (OTEL_*): a value the
 * processes would refuse at start-up is refused here, naming the variable.
 */
export function readOverlay(dir: string): Overlay {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    namespace?: string;
  };
  if (!kustomization.namespace) throw new Error(`${dir}/kustomization.yaml: an overlay sets its namespace`);
  const envFile = join(dir, 'fleet.env');
  const env = parseEnvFile(readFileSync(envFile, 'utf8'), envFile);
  let config: FleetConfig;
  try {
    config = loadConfig(env);
    tracingSettings(env);
  } catch (err) {
    throw new Error(`${envFile}: ${(err as Error).message}`);
  }
  return { name: basename(dir), dir, namespace: kustomization.namespace, config };
}
