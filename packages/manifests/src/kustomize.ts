import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { clone, type K8sObject, objectId, parseObjects } from './objects.ts';
import { parseEnvFile } from './overlay.ts';
import { strategicMerge } from './strategic-merge.ts';

const generatorSchema = z.strictObject({
  name: z.string().min(1),
  envs: z.array(z.string()).optional(),
  literals: z.array(z.string()).optional(),
});

/**
 * The part of kustomize's Kustomization the fleet's manifests use; anything else is refused, so a
 * manifest using a feature this renderer lacks fails here instead of rendering differently.
 */
const kustomizationSchema = z.strictObject({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  namespace: z.string().min(1).optional(),
  resources: z.array(z.string()).default([]),
  configMapGenerator: z.array(generatorSchema).default([]),
  secretGenerator: z.array(generatorSchema).default([]),
  generatorOptions: z.strictObject({ disableNameSuffixHash: z.literal(true) }).optional(),
  images: z
    .array(
      z.strictObject({ name: z.string(), newName: z.string().optional(), newTag: z.string().optional() }),
    )
    .default([]),
  patches: z.array(z.strictObject({ path: z.string() })).default([]),
});
type Kustomization = z.infer<typeof kustomizationSchema>;

/** Kinds without a namespace among those the fleet's manifests hold. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
]);

/**
 * `kubectl kustomize <dir>` for the subset of kustomize the fleet's manifests use, in plain
 * TypeScript, for machines without kubectl: resources (files and kustomization directories),
 * ConfigMap and Secret generators (`envs`, `literals`; name hashes off), strategic merge patches
 * by file (with `$patch: delete`), the namespace, and image names and tags. The test suite renders
 * every overlay both ways where kubectl exists and requires the same objects.
 */
export function kustomize(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  if ((k.configMapGenerator.length > 0 || k.secretGenerator.length > 0) && !k.generatorOptions)
    throw new Error(`${dir}: generators need generatorOptions.disableNameSuffixHash: true here`);
  let objects = k.resources.flatMap((r) => loadResource(resolve(dir, r)));
  objects.push(...k.configMapGenerator.map((g) => configMap(dir, g)));
  objects.push(...k.secretGenerator.map((g) => secret(dir, g)));
  assertUnique(objects, dir);
  for (const p of k.patches) objects = applyPatchFile(objects, resolve(dir, p.path));
  if (k.namespace) objects = objects.map((o) => inNamespace(o, k.namespace!));
  return objects.map((o) => withImages(o, k.images));
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  const parsed = kustomizationSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function loadResource(path: string): K8sObject[] {
  if (!existsSync(path)) throw new Error(`resource ${path} does not exist`);
  if (statSync(path).isDirectory()) return kustomize(path);
  return parseObjects(readFileSync(path, 'utf8'), path);
}

function assertUnique(objects: K8sObject[], dir: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) throw new Error(`${dir}: ${o.kind} ${o.metadata.name} is defined twice`);
    seen.add(id);
  }
}

/** KEY=VALUE pairs of `envs` files and `literals`, later ones winning. */
function generatorData(dir: string, g: z.infer<typeof generatorSchema>): Record<string, string> {
  const files = (g.envs ?? []).map((f) =>
    parseEnvFile(readFileSync(resolve(dir, f), 'utf8'), resolve(dir, f)),
  );
  const literals = parseEnvFile((g.literals ?? []).join('\n'), `${dir}: generator ${g.name}`);
  return Object.assign({}, ...files, literals);
}

function configMap(dir: string, g: z.infer<typeof generatorSchema>): K8sObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data: generatorData(dir, g) };
}

function secret(dir: string, g: z.infer<typeof generatorSchema>): K8sObject {
  const data = Object.fromEntries(
    Object.entries(generatorData(dir, g)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: g.name }, type: 'Opaque', data };
}

function applyPatchFile(objects: K8sObject[], path: string): K8sObject[] {
  let out = objects;
  for (const patch of parseObjects(readFileSync(path, 'utf8'), path)) {
    const matches = (o: K8sObject) =>
      o.kind === patch.kind &&
      o.metadata.name === patch.metadata.name &&
      (patch.metadata.namespace === undefined || o.metadata.namespace === patch.metadata.namespace);
    if (!out.some(matches)) throw new Error(`${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
    const { $patch, ...rest } = patch as K8sObject & { $patch?: string };
    if ($patch === 'delete') out = out.filter((o) => !matches(o));
    else if ($patch !== undefined) throw new Error(`${path}: $patch: ${$patch} is not supported`);
    else
      out = out.map((o) =>
        matches(o) ? (strategicMerge(o as never, rest as never, o.kind) as unknown as K8sObject) : o,
      );
  }
  return out;
}

function inNamespace(o: K8sObject, namespace: string): K8sObject {
  if (CLUSTER_SCOPED.has(o.kind)) return o;
  return { ...o, metadata: { ...o.metadata, namespace } };
}

/** Kinds whose pod template (or pod spec) holds containers, and where. */
function podSpecOf(
  o: K8sObject,
): { containers?: { image?: string }[]; initContainers?: { image?: string }[] } | undefined {
  const spec = o.spec as
    | { template?: { spec?: object }; jobTemplate?: { spec?: { template?: { spec?: object } } } }
    | undefined;
  if (o.kind === 'Pod') return spec as never;
  if (o.kind === 'CronJob') return spec?.jobTemplate?.spec?.template?.spec as never;
  return spec?.template?.spec as never;
}

function withImages(o: K8sObject, images: Kustomization['images']): K8sObject {
  if (images.length === 0 || !podSpecOf(o)) return o;
  const copy = clone(o);
  const pod = podSpecOf(copy)!;
  for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
    if (c.image) c.image = retag(c.image, images);
  }
  return copy;
}

/** `name[:tag][@digest]` with the first matching image rule applied. */
function retag(image: string, images: Kustomization['images']): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const rule = images.find((i) => i.name === name);
  if (!rule) return image;
  const tag = rule.newTag ?? (hasTag ? withoutDigest.slice(colon + 1) : undefined);
  const digest = at >= 0 && rule.newTag === undefined ? image.slice(at) : '';
  return `${rule.newName ?? name}${tag === undefined ? '' : `:${tag}`}${digest}`;
}
