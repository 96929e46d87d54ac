import { parseAllDocuments, stringify } from 'yaml';

/** A Kubernetes object as a manifest holds it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [field: string]: unknown;
}

/** "Deployment fleet-worker" (with its namespace when it has one): how messages name an object. */
export function describeObject(o: K8sObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** apiVersion, kind, namespace and name: what identifies an object in a rendered set. */
export function objectId(o: K8sObject): string {
  return `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;
}

/**
 * The objects of a multi-document YAML text; empty documents are skipped. A document that does not
 * parse, or is not an object with apiVersion, kind and metadata.name, is an error naming `source`.
 */
export function parseObjects(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(asObject(value, source));
  }
  return objects;
}

function asObject(value: unknown, source: string): K8sObject {
  const o = value as Partial<K8sObject>;
  if (typeof o !== 'object' || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
    throw new Error(`${source}: a document without apiVersion and kind`);
  if (typeof o.metadata?.name !== 'string') throw new Error(`${source}: ${o.kind} without metadata.name`);
  return o as K8sObject;
}

/** Objects as one multi-document YAML text. */
export function toYaml(objects: readonly K8sObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Plain data (JSON-like values) as a deep copy. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
