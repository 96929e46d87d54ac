import type { K8sObject } from './objects.ts';

/** Model packages by API group: Kubernetes' own groups, KEDA's, the Prometheus Operator's. */
const GROUP_PACKAGES: Record<string, string> = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** The module of an apiVersion's models, e.g. `kubernetes-models/apps/v1`; undefined for unknown groups. */
function modelModule(apiVersion: string): string | undefined {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return `kubernetes-models/${apiVersion}`;
  const group = apiVersion.slice(0, slash);
  const pkg =
    GROUP_PACKAGES[group] ??
    (!group.includes('.') || group.endsWith('.k8s.io') ? 'kubernetes-models' : undefined);
  return pkg && `${pkg}/${apiVersion}`;
}

/**
 * Checks an object against the JSON schema of its kind (kubernetes-models and the KEDA and
 * Prometheus Operator model packages) and returns what is wrong; a kind without a schema here is
 * wrong too, so nothing goes unchecked. The schemas check types, required fields and enums; like
 * `kubectl apply` without strict field validation, they let unknown fields pass.
 */
export async function schemaErrors(o: K8sObject): Promise<string[]> {
  const specifier = modelModule(o.apiVersion);
  let model: ModelClass | undefined;
  if (specifier) {
    try {
      model = ((await import(specifier)) as Record<string, ModelClass>)[o.kind];
    } catch {
      model = undefined;
    }
  }
  if (!model) return [`no schema for ${o.apiVersion} ${o.kind}`];
  try {
    new model(o).validate();
    return [];
  } catch (err) {
    return (err as Error).message.split(', ').map((m) => m.replace(/^data\//, ''));
  }
}
